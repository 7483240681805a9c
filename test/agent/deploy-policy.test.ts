/**
 * The agent's own policy on what a deploy may do to its node, performed as
 * attacks against the real Docker Engine: a container with the host's `/`
 * mounted and a chroot into it, bind mounts that escape an allowed path by
 * `..` or a symlink, privileges, host namespaces and devices, fields the
 * agent does not know, and unit actions on what keeps the node reachable.
 * Every refusal is checked with `docker ps -a`: nothing was created.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createDockerClient } from '../../agent/docker-client.ts';
import { createBody, createDeployExecutor, type DeployExecutorDeps, type DeployPolicy } from '../../agent/deploy.ts';
import { HostPathError, PROTECTED_UNITS, resolveHostPath, unitMatches, unitOfCgroup, unknownFields } from '../../agent/deploy-policy.ts';
import { createDeployJournal } from '../../agent/deploy-journal.ts';
import { AGENT_USAGE, UsageError, parseAgentArgs } from '../../agent/main.ts';
import type { ContainerSpec, DeployAction, DeployProgress, DeployRequest, DeployResult } from '../../protocol/index.ts';
import { TEST_IMAGE, docker, dockerReady, removeTestContainers } from '../helpers/docker.ts';
import { tempDir } from '../helpers/processes.ts';

const PREFIX = 'muster-policytest-';
const RUN = `${PREFIX}${process.pid}-`;
const silent = { info() {}, warn() {}, error() {}, debug() {} };
let dockerOk = false;
let n = 0;

const spec = (name: string, over: Partial<ContainerSpec> = {}): ContainerSpec => ({
  image: TEST_IMAGE, name: `${RUN}${name}`, command: ['sleep', '300'], env: {}, labels: { 'muster.test': '1' },
  ports: [], volumes: [], restart: 'no', ...over,
});
const request = (action: DeployAction): DeployRequest => ({ type: 'deploy', id: `p-${process.pid}-${++n}`, deadline: Date.now() + 60_000, action });

function executor(policy: Partial<DeployPolicy> = {}, extra: Partial<DeployExecutorDeps> = {}) {
  return createDeployExecutor(
    { docker: createDockerClient(), policy: { enabled: true, ...policy }, journal: createDeployJournal(tempDir('policytest')), now: Date.now, log: silent, ...extra },
    { settleMs: 300, stopTimeoutS: 1 },
  );
}

async function handle(exec: ReturnType<typeof executor>, action: DeployAction) {
  const frames: (DeployProgress | DeployResult)[] = [];
  const result = await exec.handle(request(action), (m) => frames.push(m));
  return { result, steps: frames.filter((f): f is DeployProgress => f.type === 'deployProgress').map((f) => f.step) };
}

/** Names of every container of this run, in any state, as `docker ps -a` lists them. */
const created = async () => (await docker('ps', '-a', '--filter', `name=^${RUN}`, '--format', '{{.Names}}')).split('\n').filter(Boolean);
const inspect = async (name: string) => JSON.parse(await docker('inspect', name))[0] as { HostConfig: Record<string, any>; Mounts: { Source: string; Destination: string }[] };
/** The effective capability set of the container's PID 1. */
const capEff = async (name: string) => BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(await docker('exec', name, 'cat', '/proc/1/status'))![1]}`);
const CAP_NET_ADMIN = 1n << 12n;
const CAP_SYS_ADMIN = 1n << 21n;

/** A refusal: outcome refused, no progress step, nothing created, and the message names what allows it. */
async function refused(r: { result: DeployResult; steps: string[] }, ...mentions: RegExp[]) {
  assert.is(r.result.outcome, 'refused', r.result.message);
  assert.equal(r.steps, [], 'nothing ran: not even accepted');
  for (const m of mentions) assert.match(r.result.message, m);
  assert.equal(await created(), [], 'docker ps -a: no container was created');
}

test.before(async () => {
  dockerOk = await dockerReady();
  if (dockerOk) await removeTestContainers(PREFIX);
});
test.after(async () => {
  if (dockerOk) await removeTestContainers(PREFIX);
});
const cleanup = () => removeTestContainers(PREFIX);

// --- pure parts -------------------------------------------------------------

test('host paths resolve as the kernel walks them: .. after a symlink, relative and absolute links, missing parts, loops', () => {
  const root = tempDir('policy-paths');
  const x = join(root, 'srv', 'x');
  mkdirSync(join(x, 'data'), { recursive: true });
  mkdirSync(join(root, 'elsewhere', 'deep'), { recursive: true });
  symlinkSync('/etc', join(x, 'etc-link'));
  symlinkSync('../../elsewhere/deep', join(x, 'rel-link'));
  symlinkSync(join(x, 'loop-b'), join(x, 'loop-a'));
  symlinkSync(join(x, 'loop-a'), join(x, 'loop-b'));
  symlinkSync('/etc/muster-no-such-dir', join(x, 'dangling'));
  writeFileSync(join(x, 'file'), '');

  assert.is(resolveHostPath(join(x, 'data')), join(x, 'data'));
  assert.is(resolveHostPath(`${x}/./data/`), join(x, 'data'));
  assert.is(resolveHostPath(`${x}/../../etc`), join(root, 'etc'));
  assert.is(resolveHostPath(`${x}/${'../'.repeat(30)}etc`), '/etc', '.. stops at /');
  assert.is(resolveHostPath(join(x, 'etc-link')), '/etc');
  assert.is(resolveHostPath(join(x, 'etc-link', 'ssh')), '/etc/ssh');
  // The kernel follows the link before the `..`: this is /, not x.
  assert.is(resolveHostPath(`${x}/etc-link/..`), '/');
  assert.is(resolveHostPath(join(x, 'rel-link')), join(root, 'elsewhere', 'deep'));
  assert.is(resolveHostPath(`${x}/rel-link/../..`), root);
  assert.is(resolveHostPath(join(x, 'new', 'dir')), join(x, 'new', 'dir'), 'what does not exist yet stays where it is');
  assert.is(resolveHostPath(`${x}/new/../../../etc`), join(root, 'etc'));
  assert.is(resolveHostPath(join(x, 'dangling', 'sub')), '/etc/muster-no-such-dir/sub', 'a dangling link still points where it points');
  assert.throws(() => resolveHostPath(join(x, 'loop-a')), (e: Error) => e instanceof HostPathError && e.code === 'MUSTER_ERR_HOST_PATH');
  assert.throws(() => resolveHostPath(join(x, 'file', 'below')), (e: Error) => e instanceof HostPathError);
  assert.throws(() => resolveHostPath('srv/x'), (e: Error) => e instanceof HostPathError);
});

test('unit patterns, the unit of a cgroup, unknown fields, and a create body made of known fields only', () => {
  assert.ok(unitMatches('web.service', 'web*'));
  assert.ok(unitMatches('nginx.service', 'nginx'), 'no suffix in the pattern: .service');
  assert.not.ok(unitMatches('nginx-extra.service', 'nginx'));
  assert.not.ok(unitMatches('api.service', 'web*'));
  assert.not.ok(unitMatches('xweb.service', 'web*'), 'anchored');
  for (const u of ['ssh.service', 'sshd.service', 'systemd-journald.service', 'systemd-networkd.service', 'systemd-resolved.service', 'dbus.service',
    'dbus-org.freedesktop.network1.service', 'networking.service', 'NetworkManager.service', 'muster-agent.service', 'reboot.target', 'getty@tty1.service']) {
    assert.ok(PROTECTED_UNITS.some((p) => unitMatches(u, p)), u);
  }
  for (const u of ['nginx.service', 'web.service', 'docker.service', 'muster-agent-helper.service']) assert.not.ok(PROTECTED_UNITS.some((p) => unitMatches(u, p)), u);

  assert.is(unitOfCgroup('0::/system.slice/muster-agent.service\n'), 'muster-agent.service');
  assert.is(unitOfCgroup('12:pids:/\n1:name=systemd:/system.slice/agent-x.service\n0::/\n'), 'agent-x.service');
  assert.is(unitOfCgroup('0::/user.slice/user-1000.slice/session-2.scope\n'), undefined);
  assert.is(unitOfCgroup('0::/\n'), undefined);

  const sneaky = { ...spec('x'), securityOpt: ['apparmor=unconfined'], volumes: [{ source: 'v', target: '/v', propagation: 'rshared' }] } as unknown as ContainerSpec;
  assert.equal(unknownFields({ kind: 'run', container: sneaky }), ['container.securityOpt', 'container.volumes[0].propagation']);
  assert.equal(unknownFields({ kind: 'unit', action: 'stop', unit: 'web.service', force: true } as unknown as DeployAction), ['force']);
  assert.equal(unknownFields({ kind: 'run', container: spec('x', { privileged: true, devices: [{ hostPath: '/dev/zero' }] }) }), []);

  const body = createBody({ ...sneaky, HostConfig: { Privileged: true } } as unknown as ContainerSpec);
  assert.not.ok('securityOpt' in body || 'SecurityOpt' in (body.HostConfig as object));
  assert.not.ok('Privileged' in (body.HostConfig as object), 'a field the agent does not know never reaches Docker');
  const powers = createBody(spec('y', { privileged: true, network: 'host', pid: 'host', capAdd: ['NET_ADMIN'], devices: [{ hostPath: '/dev/zero', containerPath: '/dev/z', permissions: 'r' }] }));
  assert.equal(powers.HostConfig, {
    ...(powers.HostConfig as object),
    Privileged: true, NetworkMode: 'host', PidMode: 'host', CapAdd: ['NET_ADMIN'],
    Devices: [{ PathOnHost: '/dev/zero', PathInContainer: '/dev/z', CgroupPermissions: 'r' }],
  });
});

test('agent flags: --allow-bind (absolute, repeatable), --allow-privileged, --allow-host-namespaces, --allow-unit; none with --no-deploy; all in --help', () => {
  const cfg = (args: string[]) => { const c = parseAgentArgs(['--hub', 'http://hub.lan:7070', ...args], {}); if (typeof c === 'string') throw new Error(c); return c; };
  assert.equal(cfg([]).deploy, { enabled: true }, 'nothing allowed by default');
  assert.equal(cfg(['--allow-bind', '/srv/app/', '--allow-bind', '/srv//data/../logs', '--allow-privileged', '--allow-host-namespaces', '--allow-unit', 'web*']).deploy, {
    enabled: true, allowBinds: ['/srv/app', '/srv/logs'], allowPrivileged: true, allowHostNamespaces: true, allowUnits: ['web*'],
  });
  const usage = (args: string[]) => assert.throws(() => cfg(args), (e: Error) => e instanceof UsageError && e.code === 'MUSTER_ERR_USAGE', args.join(' '));
  usage(['--allow-bind', 'srv/app']);
  usage(['--allow-unit', 'web service']);
  usage(['--no-deploy', '--allow-privileged']);
  usage(['--no-deploy', '--allow-bind', '/srv']);
  for (const flag of ['--allow-bind PATH', '--allow-privileged', '--allow-host-namespaces', '--allow-unit PAT']) assert.ok(AGENT_USAGE.includes(flag), flag);
});

// --- the real Engine ---------------------------------------------------------

test('the attack: -v /:/host and a chroot into it is refused by default, and nothing is created', async () => {
  if (!dockerOk) return;
  const attack = spec('root', { volumes: [{ source: '/', target: '/host' }], command: ['busybox', 'chroot', '/host', '/bin/sh', '-c', 'id > /tmp/muster-pwned; sleep 300'] });
  await refused(await handle(executor(), { kind: 'run', container: attack }), /--allow-bind/);
  await refused(await handle(executor(), { kind: 'replace', container: attack }), /--allow-bind/);
  // An allowed path elsewhere does not open / either.
  await refused(await handle(executor({ allowBinds: [tempDir('policy-other')] }), { kind: 'run', container: attack }), /--allow-bind/);
  // The Docker socket is a host path like any other.
  await refused(await handle(executor(), { kind: 'run', container: spec('sock', { volumes: [{ source: '/var/run/docker.sock', target: '/var/run/docker.sock' }] }) }), /--allow-bind/);
});

test('--allow-bind DIR: DIR/data is mounted (as the path it resolved to); DIR/../../etc, a symlink to /etc and a link/.. escape are refused', async () => {
  if (!dockerOk) return;
  const root = tempDir('policy-bind');
  const x = join(root, 'srv', 'x');
  mkdirSync(join(x, 'data'), { recursive: true });
  writeFileSync(join(x, 'data', 'hello.txt'), 'from the host\n');
  symlinkSync('/etc', join(x, 'etc-link'));
  mkdirSync(join(x, 'sub'));
  symlinkSync('/', join(x, 'sub', 'up'));
  const exec = executor({ allowBinds: [x] });
  const depth = x.split('/').length - 1;
  const escapes = [`${x}/../../etc`, `${x}/${'../'.repeat(depth)}etc`, join(x, 'etc-link'), `${x}/sub/up/etc`, `${x}/etc-link/..`];
  for (const source of escapes) {
    await refused(await handle(exec, { kind: 'run', container: spec('esc', { volumes: [{ source, target: '/mnt' }] }) }), /--allow-bind/, /allowed now: /);
  }
  // Not a host path nor a volume name, or a colon that would add mount options: refused, not guessed at.
  await refused(await handle(exec, { kind: 'run', container: spec('rel', { volumes: [{ source: '../etc', target: '/mnt' }] }) }));
  await refused(await handle(exec, { kind: 'run', container: spec('colon', { volumes: [{ source: join(x, 'data'), target: '/mnt:rshared' }] }) }));

  try {
    const ok = await handle(exec, { kind: 'run', container: spec('bind', { volumes: [{ source: `${x}/sub/../data`, target: '/data', readOnly: true }, { source: `muster-policytest-vol-${process.pid}`, target: '/cache' }] }) });
    assert.is(ok.result.outcome, 'succeeded', ok.result.message);
    assert.is(await docker('exec', `${RUN}bind`, 'cat', '/data/hello.txt'), 'from the host');
    const c = await inspect(`${RUN}bind`);
    assert.is(c.Mounts.find((m) => m.Destination === '/data')?.Source, join(x, 'data'), 'Docker mounts the resolved path it was given');
    assert.ok(c.Mounts.some((m) => m.Destination === '/cache'), 'a named volume needs no flag');
  } finally {
    await cleanup();
    await docker('volume', 'rm', `muster-policytest-vol-${process.pid}`).catch(() => '');
  }
});

test('--privileged, --device and --cap-add are refused without --allow-privileged; with it the container really has them', async () => {
  if (!dockerOk) return;
  const powers = { privileged: true, devices: [{ hostPath: '/dev/zero', containerPath: '/dev/muster-zero' }], capAdd: ['NET_ADMIN'] };
  const all = await handle(executor({ allowHostNamespaces: true }), { kind: 'run', container: spec('priv', powers) });
  await refused(all, /privileged containers .*--allow-privileged/, /host devices \(\/dev\/zero\)/, /added capabilities \(NET_ADMIN\)/);
  for (const one of [{ privileged: true }, { devices: powers.devices }, { capAdd: powers.capAdd }]) {
    await refused(await handle(executor(), { kind: 'run', container: spec('priv', one) }), /--allow-privileged/);
  }

  const allowed = executor({ allowPrivileged: true });
  try {
    const unprivileged = await handle(allowed, { kind: 'run', container: spec('plain') });
    assert.is(unprivileged.result.outcome, 'succeeded', unprivileged.result.message);
    const plainCaps = await capEff(`${RUN}plain`);
    assert.is(plainCaps & CAP_SYS_ADMIN, 0n);

    const cap = await handle(allowed, { kind: 'run', container: spec('cap', { capAdd: ['NET_ADMIN'] }) });
    assert.is(cap.result.outcome, 'succeeded', cap.result.message);
    assert.is(await capEff(`${RUN}cap`), plainCaps | CAP_NET_ADMIN, 'exactly NET_ADMIN was added');

    const dev = await handle(allowed, { kind: 'run', container: spec('dev', { devices: powers.devices }) });
    assert.is(dev.result.outcome, 'succeeded', dev.result.message);
    assert.match(await docker('exec', `${RUN}dev`, 'ls', '-l', '/dev/muster-zero'), /^c/, 'the device is there');

    // A Docker that itself runs without every capability (a container, some CI sandboxes) cannot start a privileged container at all.
    const dockerSays = await docker('run', '--rm', '--privileged', '--name', `${RUN}probe`, '--label', 'muster.test=1', TEST_IMAGE, 'sh', '-c', 'exit 0').then(() => undefined, (e: Error) => e.message);
    const priv = await handle(allowed, { kind: 'run', container: spec('priv', { privileged: true }) });
    if (dockerSays) {
      // Not a skip: this Docker (capability-limited, as on this project's CI machine) refuses privileged containers
      // to everyone, and what can be shown is that the agent let the request through and asked for it.
      process.stdout.write(`\n(note: docker run --privileged fails on this machine: ${dockerSays.split('\n')[0]})\n`);
      // The agent asked for it all the same: Docker's own refusal comes back, not a quiet unprivileged container.
      assert.is(priv.result.outcome, 'failed');
      assert.match(priv.result.message, /unable to apply caps|operation not permitted/);
    } else {
      assert.is(priv.result.outcome, 'succeeded', priv.result.message);
      assert.is((await inspect(`${RUN}priv`)).HostConfig.Privileged, true);
      assert.is(await capEff(`${RUN}priv`) & CAP_SYS_ADMIN, CAP_SYS_ADMIN, 'PID 1 holds CAP_SYS_ADMIN');
    }
  } finally {
    await cleanup();
  }
});

test('--network host (by name or by id) and --pid host are refused without --allow-host-namespaces; with it the container shares them', async () => {
  if (!dockerOk) return;
  const hostNetId = await docker('network', 'inspect', '--format', '{{.Id}}', 'host');
  await refused(await handle(executor({ allowPrivileged: true }), { kind: 'run', container: spec('ns', { network: 'host', pid: 'host' }) }), /host network .*--allow-host-namespaces/, /host PID namespace/);
  await refused(await handle(executor(), { kind: 'run', container: spec('ns', { network: hostNetId }) }), /is the host network.*--allow-host-namespaces/);
  await refused(await handle(executor(), { kind: 'run', container: spec('ns', { pid: 'host' }) }), /--allow-host-namespaces/);

  try {
    const plain = await handle(executor(), { kind: 'run', container: spec('bridge', { network: 'bridge' }) });
    assert.is(plain.result.outcome, 'succeeded', 'a plain network needs no flag');

    const ns = await handle(executor({ allowHostNamespaces: true }), { kind: 'run', container: spec('ns', { network: 'host', pid: 'host' }) });
    assert.is(ns.result.outcome, 'succeeded', ns.result.message);
    const c = await inspect(`${RUN}ns`);
    assert.is(c.HostConfig.NetworkMode, 'host');
    assert.is(c.HostConfig.PidMode, 'host');
    assert.is(await docker('exec', `${RUN}ns`, 'sh', '-c', `[ -d /proc/${process.pid} ] && echo sees-host-pids`), 'sees-host-pids');
    assert.is(await docker('exec', `${RUN}ns`, 'cat', '/proc/sys/kernel/hostname'), hostname());
  } finally {
    await cleanup();
  }
});

test('a field the agent does not know is refused, not ignored, and nothing is created', async () => {
  if (!dockerOk) return;
  const sneaky = { ...spec('sneaky'), securityOpt: ['seccomp=unconfined'] } as unknown as ContainerSpec;
  await refused(await handle(executor({ allowPrivileged: true, allowHostNamespaces: true, allowBinds: ['/'] }), { kind: 'run', container: sneaky }), /'container\.securityOpt'/);
});

test('unit actions: ssh, systemd-*, the agent\'s own unit and aliases of them are refused; --allow-unit narrows; no systemctl action runs for a refusal', async () => {
  const calls: string[][] = [];
  // systemd as it answers `show --property=Id,Names`: sshd.service is an alias of ssh.service, and so is the innocent-looking one.
  const aliases: Record<string, string> = { 'sshd.service': 'ssh.service sshd.service', 'web-alias.service': 'ssh.service web-alias.service' };
  const systemctl = async (args: string[]) => {
    calls.push(args);
    if (args[0] === 'show') {
      const unit = args.at(-1)!;
      const names = aliases[unit] ?? unit;
      return { code: 0, stdout: `Id=${names.split(' ')[0]}\nNames=${names}\n`, stderr: '' };
    }
    return { code: 0, stdout: args[0] === 'is-active' ? 'active\n' : '', stderr: '' };
  };
  const acts = () => calls.filter((c) => c[0] !== 'show');
  const exec = (policy: Partial<DeployPolicy> = {}, ownUnit?: string) => executor(policy, { systemctl, hasSystemd: () => true, ...(ownUnit ? { ownUnit } : {}) });
  const unit = (u: string, action: 'start' | 'stop' | 'restart' = 'stop'): DeployAction => ({ kind: 'unit', action, unit: u });

  for (const u of ['sshd.service', 'ssh.service', 'systemd-journald.service', 'systemd-networkd.service', 'dbus.service', 'networking.service', 'muster-agent.service', 'reboot.target']) {
    const r = await handle(exec({ allowUnits: ['*'] }), unit(u, 'restart'));
    assert.is(r.result.outcome, 'refused', u);
    assert.match(r.result.message, /is protected/);
    assert.equal(r.steps, []);
  }
  const alias = await handle(exec(), unit('web-alias.service'));
  assert.is(alias.result.outcome, 'refused', 'an alias of ssh is ssh');
  assert.match(alias.result.message, /web-alias\.service \(ssh\.service\)/);
  const own = await handle(exec({}, 'muster-node.service'), unit('muster-node.service'));
  assert.is(own.result.outcome, 'refused', 'the unit the agent runs in, whatever its name');
  assert.equal(acts(), [], 'systemctl never started, stopped or restarted anything');

  const narrowed = exec({ allowUnits: ['web*'] });
  const other = await handle(narrowed, unit('nginx.service'));
  assert.is(other.result.outcome, 'refused');
  assert.match(other.result.message, /--allow-unit web\*/);
  assert.equal(acts(), []);
  const web = await handle(narrowed, unit('web.service', 'restart'));
  assert.is(web.result.outcome, 'succeeded', web.result.message);
  assert.equal(acts(), [['restart', '--', 'web.service'], ['is-active', '--', 'web.service']]);

  // On this host (no systemd as PID 1) the policy still answers first: a refusal, not "no systemd".
  const bare = await handle(executor({}, { systemctl }), unit('sshd.service'));
  assert.is(bare.result.outcome, 'refused');
});

test.run();
