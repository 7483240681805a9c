/**
 * The agent installed the way a person installs it: the one line `muster
 * token create --role agent` prints, pasted as root on a fresh Debian 12 with
 * systemd as PID 1 and Debian's Node 18; then a reboot with the join token
 * revoked, a reconfigure, an uninstall that keeps the node's identity and one
 * that leaves nothing behind. install.sh itself is linted here too.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { api, CLI, missingComponent, ROOT, startHubProcess, waitFor, type HubProc } from '../helpers/processes.ts';
import { startSystemdNode, systemdNodeReady, type SystemdNode } from '../helpers/systemd-node.ts';
import { agentInstallLine } from '../../cli/install-line.ts';

const SCRIPT = join(ROOT, 'install/agent-install.sh');
const NAME = `muster-t-node-${process.pid}`;

test('install.sh and its launcher are POSIX sh that shellcheck passes', () => {
  assert.is(spawnSync('sh', ['-n', SCRIPT]).status, 0, 'sh -n');
  if (spawnSync('shellcheck', ['--version']).status !== 0) {
    missingComponent('shellcheck', 'bash install/test-host.sh installs Debian\'s shellcheck');
    return;
  }
  const sc = spawnSync('shellcheck', ['-s', 'sh', SCRIPT], { encoding: 'utf8' });
  assert.is(sc.status, 0, sc.stdout);
  // The launcher is written out from a here-document: check it as the file it becomes.
  const launcher = /<<'LAUNCHER'\n([\s\S]*?)\nLAUNCHER\n/.exec(spawnSync('cat', [SCRIPT], { encoding: 'utf8' }).stdout)?.[1];
  assert.ok(launcher, 'the launcher is in install.sh');
  const lc = spawnSync('shellcheck', ['-s', 'sh', '-'], { input: launcher, encoding: 'utf8' });
  assert.is(lc.status, 0, lc.stdout);
});

let hub: HubProc | undefined;
let node: SystemdNode | undefined;
let line = '';
let tokenId = '';

/** `muster token create --role agent` as a person runs it: the token's id and the one line it prints. */
function tokenCreate(h: HubProc): { id: string; line: string } {
  const r = spawnSync(process.execPath, [CLI, 'token', 'create', '--role', 'agent', '--hub', h.url, '--token', h.adminToken, '--ca-file', h.caFile!], { encoding: 'utf8', timeout: 30_000 });
  assert.is(r.status, 0, r.stderr);
  const id = /^token (\w+) /m.exec(r.stderr)?.[1];
  const printed = r.stderr.split('\n').filter((l) => l.startsWith('curl '));
  assert.ok(id, r.stderr);
  assert.is(printed.length, 1, `one line to paste: ${r.stderr}`);
  return { id: id!, line: printed[0]! };
}

/** The agent's log since the unit last started. A container shares the host's boot id (journalctl -b): the invocation id tells runs apart. */
const THIS_RUN = 'journalctl -o cat --no-pager _SYSTEMD_INVOCATION_ID=$(systemctl show -p InvocationID --value muster-agent)';

const nodeDetail = async () => (await api(hub!.url, hub!.adminToken, `/api/v1/nodes/${NAME}`)).body;

test('the one line from muster token create installs the agent as a service on a fresh Debian 12', async () => {
  if (!(await systemdNodeReady())) return;
  hub = await startHubProcess();
  node = await startSystemdNode({ name: NAME });
  ({ id: tokenId, line } = tokenCreate(hub));
  // ca-certificates brings openssl along on Debian; not every machine has it, and the line must do without.
  await node.sh('mv /usr/bin/openssl /usr/bin/openssl.hidden');

  // Node.js is missing: the installer gets Debian's from the archive.
  await node.sh('dpkg --purge --force-depends nodejs >/dev/null 2>&1; ! command -v node');
  const r = await node.exec(`cd /root && ${line} --label role=test --allow-image 'registry.lab/*'`, 300_000);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(await node.sh('node --version'), /^v18\./, 'Debian 12\'s nodejs');

  assert.is(await node.sh('systemctl is-active muster-agent'), 'active');
  assert.is(await node.sh('systemctl is-enabled muster-agent'), 'enabled');
  const verify = await node.exec('systemd-analyze verify /etc/systemd/system/muster-agent.service');
  assert.is(verify.code, 0, verify.stdout + verify.stderr);
  assert.is(await node.sh('stat -c %a /var/lib/muster-agent'), '700');
  assert.is(await node.sh('stat -c %a /var/lib/muster-agent/credential.json'), '600');
  const cmdline = await node.sh('tr "\\0" " " </proc/$(systemctl show -p MainPID --value muster-agent)/cmdline');
  assert.not.match(cmdline, /muster_\w+_/, 'the join token is not on the command line, where every user would see it');
  assert.match(cmdline, /--label role=test --allow-image registry\.lab\/\*/, 'extra flags reach the agent');
  assert.match(cmdline, /^\S+ --lite-mode --no-expose-wasm --max-semi-space-size=1 \/usr\/local\/lib\/muster-agent\/muster-agent\.js /, 'the launcher gives Node 18 the agent\'s flags (agent/runtime-flags.ts)');

  const detail = await waitFor('the node online', async () => { const d = await nodeDetail(); return d.online ? d : undefined; }, 30_000);
  assert.match(detail.facts.runtime, /^node v18\./, 'the agent runs on Debian\'s Node 18');
  assert.equal(detail.facts.labels, { role: 'test' });
  // The sandbox's own mounts (PrivateTmp, ProtectSystem...) are not the host's filesystems.
  assert.not.ok(detail.facts.filesystems.some((f: { mountpoint: string }) => /^\/run\/(credentials|systemd|user)/.test(f.mountpoint)), JSON.stringify(detail.facts.filesystems));
});

test('refused before anything changes: a hub that is not the pinned one, and flags the agent would reject', async () => {
  if (!node || !hub) return;
  const before = await node.sh('md5sum /etc/muster-agent/agent.flags /etc/systemd/system/muster-agent.service');
  const wrongPin = `sha256:${'0'.repeat(64)}`;
  const printed = agentInstallLine({ hub: hub.url, token: 'muster_x_y', caHash: wrongPin });
  const viaLine = await node.exec(`cd /root && ${printed}`);
  assert.is.not(viaLine.code, 0, 'the line checks the pin before it fetches install.sh');
  const viaScript = await node.exec(`curl -fsS --cacert /root/muster-ca.crt ${hub.url}/install.sh | sh -s -- --hub ${hub.url} --ca-hash ${wrongPin}`);
  assert.is(viaScript.code, 1, 'install.sh checks the pin itself');
  const badFlags = await node.exec('sh /usr/local/lib/muster-agent/install.sh --interval 0');
  assert.is(badFlags.code, 1, 'the agent\'s --check refuses the flags');
  assert.is(await node.sh('md5sum /etc/muster-agent/agent.flags /etc/systemd/system/muster-agent.service'), before, 'nothing was touched');
  assert.is(await node.sh('systemctl is-active muster-agent'), 'active');
});

test('after a reboot the agent comes back on its credential, with the join token revoked', async () => {
  if (!node || !hub) return;
  const del = await api(hub.url, hub.adminToken, `/api/v1/tokens/${tokenId}`, { method: 'DELETE' });
  assert.is(del.status, 200);
  await node.reboot();
  await waitFor('the agent to connect after the reboot', async () => /connected to hub/.test(await node!.sh(THIS_RUN)), 30_000, 250);
  const log = await node.sh(THIS_RUN);
  assert.not.match(log, /joined the hub/, 'no join: the credential was enough');
  assert.ok((await nodeDetail()).online);
  assert.is(await node.sh('test -e /var/lib/muster-agent/join-token && echo kept || echo gone'), 'gone', 'the token is forgotten once the node has joined');
});

test('run again, it reconfigures in place: new flags, same node, no token needed', async () => {
  if (!node || !hub) return;
  const r = await node.exec('sh /usr/local/lib/muster-agent/install.sh --label role=changed');
  assert.is(r.code, 0, r.stderr);
  await waitFor('the new label on the hub', async () => (await nodeDetail()).facts.labels.role === 'changed', 30_000);
  const nodes = (await api(hub.url, hub.adminToken, '/api/v1/nodes')).body.nodes;
  assert.is(nodes.filter((n: { name: string }) => n.name === NAME).length, 1);
});

test('--uninstall removes the service and the program and keeps the identity; --purge leaves nothing', async () => {
  if (!node || !hub) return;
  const r = await node.exec('sh /usr/local/lib/muster-agent/install.sh --uninstall');
  assert.is(r.code, 0, r.stderr);
  assert.is(await node.sh('ls /etc/systemd/system /etc/systemd/system/multi-user.target.wants | grep -c muster || true'), '0');
  assert.is(await node.sh('systemctl list-unit-files "muster*" --no-legend | wc -l'), '0');
  assert.is(await node.sh('pgrep -f muster-agent.js || echo none'), 'none');
  assert.is(await node.sh('ls -d /usr/local/lib/muster-agent /etc/muster-agent 2>/dev/null || echo none'), 'none');
  assert.is(await node.sh('test -s /var/lib/muster-agent/credential.json && echo kept'), 'kept');

  // The same line again, its token revoked since: the kept credential brings the same node back.
  const again = await node.exec(`cd /root && ${line}`);
  assert.is(again.code, 0, again.stdout + again.stderr);
  const log = await node.sh(THIS_RUN);
  assert.match(log, /connected to hub/);
  assert.not.match(log, /joined the hub/, 'the same node, on its kept credential');
  assert.ok((await nodeDetail()).online);

  const purge = await node.exec('sh /usr/local/lib/muster-agent/install.sh --uninstall --purge');
  assert.is(purge.code, 0, purge.stderr);
  const left = await node.sh('find / -xdev \\( -path /proc -o -path /sys \\) -prune -o -name "*muster*" -print');
  assert.is(left, '/root/muster-ca.crt', 'only the CA the line downloaded is left, where the person ran it');
});

test.after(async () => {
  await node?.destroy();
  await hub?.stop();
});

test.run();
