/**
 * `muster install hub` on a fresh Debian 12 with systemd as PID 1: the unit
 * passes systemd-analyze verify, the hub runs as the user muster with no
 * capability but binding DNS on port 53, answers /healthz over its own TLS,
 * survives a reboot with the same CA, and `muster uninstall hub` keeps the
 * data unless --purge. The checkout is mounted read-only where a package
 * would be installed; Debian's Node is 18, so the installer must pick the
 * Node 24 this checkout runs on.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { freePort, hubFetch, ROOT, tempDir, trustHub } from '../helpers/processes.ts';
import { startSystemdNode, systemdNodeReady, type SystemdNode } from '../helpers/systemd-node.ts';

const NAME = `muster-t-hub-${process.pid}`;
const NODE24 = `/opt/muster/${process.execPath.slice(ROOT.length)}`;
const MUSTER = `${NODE24} /opt/muster/cli/muster.ts`;
// DNS on port 53 of a loopback address of its own: the host shares this network.
const DNS_HOST = `127.0.0.${10 + (process.pid % 240)}`;

let node: SystemdNode | undefined;
let port = 0;
let url = '';
let caHash = '';

const mainPid = () => node!.sh('systemctl show -p MainPID --value muster-hub');

/** The hub's CA, copied out of the machine for the test's client to trust. */
async function trustInstalledHub(): Promise<string> {
  const pem = await node!.sh('cat /var/lib/muster/tls/ca.crt');
  const file = join(tempDir('hub-ca'), 'ca.crt');
  writeFileSync(file, pem + '\n');
  trustHub(url, file);
  return pem;
}

test('muster install hub: a verified unit, started, as the user muster, answering over TLS', async () => {
  if (!process.execPath.startsWith(ROOT)) throw new Error(`the tests run on the checkout's Node (${process.execPath}): export PATH=$PWD/node_modules/.bin:$PATH`);
  if (!(await systemdNodeReady())) return;
  node = await startSystemdNode({ name: NAME, volumes: [`${ROOT}:/opt/muster:ro`] });
  port = await freePort();
  url = `https://127.0.0.1:${port}`;

  const refused = await node.exec(`runuser -u nobody -- ${MUSTER} install hub`);
  assert.is(refused.code, 1, 'not root: refused');
  assert.is(await node.sh('test -e /etc/systemd/system/muster-hub.service && echo yes || echo no'), 'no');

  const r = await node.exec(`cd / && ${MUSTER} install hub --listen 127.0.0.1:${port} --dns-listen ${DNS_HOST}:53`);
  assert.is(r.code, 0, r.stdout + r.stderr);
  caHash = /--ca-hash (sha256:[0-9a-f]{64})/.exec(r.stdout)?.[1] ?? '';
  assert.ok(caHash, r.stdout);

  const verify = await node.exec('systemd-analyze verify /etc/systemd/system/muster-hub.service');
  assert.is(verify.code, 0, verify.stdout + verify.stderr);
  assert.is(await node.sh('systemctl is-active muster-hub'), 'active');
  assert.is(await node.sh('systemctl is-enabled muster-hub'), 'enabled');
  assert.is(await node.sh('stat -c "%a %U" /var/lib/muster'), '700 muster');
  const status = await node.sh(`cat /proc/${await mainPid()}/status`);
  const uid = await node.sh('id -u muster');
  assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s`, 'm'), 'runs as muster');
  // CAP_NET_BIND_SERVICE is bit 10: that one and nothing else, because DNS is on port 53.
  assert.match(status, /^CapBnd:\s+0000000000000400$/m);
  assert.match(status, /^CapEff:\s+0000000000000400$/m);
  assert.match(await node.sh(`tr '\\0' ' ' </proc/${await mainPid()}/cmdline`), /--max-semi-space-size=4 /);

  await trustInstalledHub();
  const health = await hubFetch(`${url}/healthz`);
  assert.is(health.status, 200);
  assert.is(((await health.json()) as { status: string }).status, 'ok');
  const dig = execFileSync('dig', ['+noall', '+comments', '+time=2', '+tries=2', '-p', '53', `@${DNS_HOST}`, 'nothing.node.internal'], { encoding: 'utf8' });
  assert.match(dig, /status: NXDOMAIN/, 'DNS answers on port 53');
  // The CLI of the root who installed it is configured for it: the next step works as printed.
  const token = await node.exec(`${MUSTER} token create --role agent`);
  assert.is(token.code, 0, token.stderr);
  assert.ok(token.stderr.includes(`--ca-hash ${caHash}`), token.stderr);
});

test('the hub survives a reboot with its data and its CA', async () => {
  if (!node) return;
  await node.reboot();
  const health = await (async () => {
    const end = Date.now() + 30_000;
    for (;;) {
      try {
        const res = await hubFetch(`${url}/healthz`);
        if (res.status === 200) return res;
      } catch (err) {
        if (Date.now() > end) throw err;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  assert.is(health.status, 200, 'verified against the CA from before the reboot');
  assert.is(await node.sh('systemctl is-active muster-hub'), 'active');
});

test('muster uninstall hub keeps the data and the user; --purge removes them', async () => {
  if (!node) return;
  const r = await node.exec(`${MUSTER} uninstall hub`);
  assert.is(r.code, 0, r.stderr);
  assert.is(await node.sh('test -e /etc/systemd/system/muster-hub.service && echo yes || echo no'), 'no');
  assert.is(await node.sh('systemctl list-unit-files "muster*" --no-legend | wc -l'), '0');
  assert.is(await node.sh('test -s /var/lib/muster/admin.token && id -u muster >/dev/null && echo kept'), 'kept');

  // Installed again, it is the same hub: same CA, same data.
  const again = await node.exec(`${MUSTER} install hub --listen 127.0.0.1:${port} --dns-listen off`);
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.ok(again.stdout.includes(caHash), 'the same CA');
  assert.match(await node.sh(`grep -c CapabilityBoundingSet=$ /etc/systemd/system/muster-hub.service`), /^1$/, 'no port below 1024 now: no capability at all');

  const purge = await node.exec(`${MUSTER} uninstall hub --purge`);
  assert.is(purge.code, 0, purge.stderr);
  assert.is(await node.sh('ls -d /var/lib/muster 2>/dev/null; id muster 2>/dev/null; ls /etc/systemd/system | grep muster; true'), '');
});

test.after(async () => {
  await node?.destroy();
});

test.run();
