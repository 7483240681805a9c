/**
 * The pieces of `muster install hub` that need no machine of their own: the
 * unit it writes (checked by the real systemd-analyze), and its refusals,
 * which come before anything on the machine is touched. The install itself
 * runs in test/install/hub-service.test.ts; the agent's one line here is
 * parsed by a real sh, and run in test/install/agent-service.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataDirOfUnit, hubUnit, installCommand, systemDeps, uninstallCommand, type SystemDeps } from '../../cli/commands/install.ts';
import { agentInstallLine } from '../../cli/install-line.ts';
import { CliError } from '../../cli/config.ts';
import type { Io } from '../../cli/io.ts';
import { missingComponent, ROOT, tempDir } from '../helpers/processes.ts';

const program = join(ROOT, 'cli/muster.ts');

/** systemd-analyze verify on a unit text; undefined when the tool is missing. */
function verify(text: string): { status: number | null; output: string } | undefined {
  if (spawnSync('systemd-analyze', ['--version']).status !== 0) return undefined;
  const file = join(tempDir('unit'), 'muster-hub.service');
  writeFileSync(file, text);
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

test('the unit: no capability at all, unless a port below 1024 is bound; systemd-analyze accepts both', () => {
  const plain = hubUnit({ node: process.execPath, program, dataDir: '/var/lib/muster', hubArgs: ['--data', '/var/lib/muster', '--listen', '0.0.0.0:7070'], bindsPrivilegedPort: false });
  assert.match(plain, /^CapabilityBoundingSet=$/m);
  assert.match(plain, /^AmbientCapabilities=$/m);
  assert.match(plain, /^ReadWritePaths=\/var\/lib\/muster$/m);
  assert.match(plain, /^User=muster$/m);
  assert.match(plain, new RegExp(`^ExecStart=${process.execPath} --max-semi-space-size=4 ${program} hub --data /var/lib/muster --listen 0\\.0\\.0\\.0:7070$`, 'm'));
  const dns = hubUnit({ node: process.execPath, program, dataDir: '/var/lib/muster', hubArgs: ['--dns-listen', '0.0.0.0:53'], bindsPrivilegedPort: true });
  assert.match(dns, /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
  assert.match(dns, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
  for (const unit of [plain, dns]) {
    const v = verify(unit);
    if (!v) { missingComponent('systemd-analyze', 'bash install/test-host.sh installs systemd'); return; }
    assert.is(v.status, 0, v.output);
  }
});

test('the unit quotes what systemd would read otherwise: spaces, quotes, % and $', () => {
  const dataDir = '/srv/muster data/100% "$HOME"';
  const unit = hubUnit({ node: process.execPath, program, dataDir, hubArgs: ['--data', dataDir, '--tls-san', 'hub.lan'], bindsPrivilegedPort: false });
  assert.is(dataDirOfUnit(unit), dataDir);
  assert.match(unit, /ExecStart=.* hub --data "\/srv\/muster data\/100%% \\"\$\$HOME\\"" --tls-san hub\.lan$/m);
  const v = verify(unit);
  if (v) assert.is(v.status, 0, v.output);
});

function io(): Io & { output: () => string } {
  let out = '';
  return { env: {}, out: (s) => { out += s; }, err: (s) => { out += s; }, output: () => out };
}

/** The real machine, but a run that must fail before it changes anything throws if it tries. */
function refusing(over: Partial<SystemDeps>): SystemDeps {
  const real = systemDeps();
  const touch = (cmd: string) => { if (!['id', 'sh', 'runuser'].includes(cmd) && !cmd.includes('node')) throw new Error(`the refusal ran ${cmd}`); };
  return {
    ...real,
    run: (cmd, args) => { touch(cmd); return real.run(cmd, args); },
    status: (cmd, args) => { touch(cmd); return real.status(cmd, args); },
    ...over,
  };
}

async function refusal(argv: string[], sys: SystemDeps, uninstall = false): Promise<CliError> {
  try {
    await (uninstall ? uninstallCommand : installCommand)(argv, io(), sys);
  } catch (err) {
    assert.instance(err, CliError);
    return err as CliError;
  }
  throw new Error('expected a refusal');
}

test('refused before anything changes: not root, no systemd, no Node 22, a data directory that is not the hub\'s own', async () => {
  const root = { uid: () => 0, systemdBooted: () => true };
  assert.is((await refusal(['hub'], refusing({ uid: () => 1000, systemdBooted: () => true }))).code, 'MUSTER_ERR_NOT_ROOT');
  assert.is((await refusal(['hub'], refusing({ uid: () => 1000, systemdBooted: () => true }), true)).code, 'MUSTER_ERR_NOT_ROOT');
  assert.is((await refusal(['hub'], refusing({ uid: () => 0, systemdBooted: () => false }))).code, 'MUSTER_ERR_NO_SYSTEMD');
  const node18 = join(ROOT, '.cache/node18/bin/node');
  if (existsSync(node18)) {
    assert.is((await refusal(['hub'], refusing({ ...root, nodeCandidates: () => [node18, '/nonexistent/node'] }))).code, 'MUSTER_ERR_NO_NODE');
  } else {
    missingComponent('Node 18', 'run install/test-host.sh to fetch it into .cache/node18');
  }
  for (const data of ['/', '/var', '/var/lib', '/home/alice/muster', '/tmp/muster', '/root/hub']) {
    assert.is((await refusal(['hub', '--data', data], refusing(root))).code, 'MUSTER_ERR_USAGE', data);
  }
  assert.is((await refusal(['hub', '--listen', 'nope'], refusing(root))).code, 'MUSTER_ERR_USAGE');
  assert.is((await refusal(['hub', '--node', 'node'], refusing(root))).code, 'MUSTER_ERR_USAGE');
  assert.is((await refusal(['agent'], refusing(root))).code, 'MUSTER_ERR_USAGE', 'agents install with the one line');
});

test('the agent\'s one line: one line of POSIX sh, each value one word', () => {
  const line = agentInstallLine({ hub: 'https://hub.lan:7070/', token: 'muster_abc_d-e', caHash: `sha256:${'ab'.repeat(32)}`, agentFlags: ['--label', "team=it's ops", '--allow-image', 'registry.lab/*'] });
  assert.not.match(line, /\n/);
  assert.not.match(line, /openssl/, 'Debian, Ubuntu and Raspberry Pi OS have sed, base64 and sha256sum; not always openssl');
  assert.is(spawnSync('sh', ['-n', '-c', line]).status, 0);
  // What install.sh receives, word for word: the line's last command with its `sh -s --` swapped for a printer.
  const args = line.slice(line.indexOf('| sh -s -- ') + '| sh -s -- '.length);
  const words = spawnSync('sh', ['-c', `printf '%s\\n' ${args}`], { encoding: 'utf8' }).stdout.trimEnd().split('\n');
  assert.equal(words, ['--hub', 'https://hub.lan:7070', '--join', 'muster_abc_d-e', '--ca-hash', `sha256:${'ab'.repeat(32)}`, '--label', "team=it's ops", '--allow-image', 'registry.lab/*']);
  assert.match(line, /^curl -fsSk https:\/\/hub\.lan:7070\/cacerts -o muster-ca\.crt && .* && curl -fsS --cacert muster-ca\.crt https:\/\/hub\.lan:7070\/install\.sh \| sh -s -- /);
  // A hub without a CA of its own (--tls-cert): the system's CAs check it.
  assert.match(agentInstallLine({ hub: 'https://hub.example.com', token: 't' }), /^curl -fsS https:\/\/hub\.example\.com\/install\.sh \| sh -s -- --hub https:\/\/hub\.example\.com --join t$/);
});

test.run();
