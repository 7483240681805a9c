/**
 * The agent's deploy executor against the real Docker Engine and the local
 * test image: what it runs, what it refuses, and that a job id runs once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statSync } from 'node:fs';
import { createDockerClient } from '../../agent/docker-client.ts';
import { createDeployExecutor, createBody, demuxLogs, imageAllowed, type DeployPolicy } from '../../agent/deploy.ts';
import { createDeployJournal } from '../../agent/deploy-journal.ts';
import type { DeployAction, DeployProgress, DeployRequest, DeployResult, ContainerSpec } from '../../protocol/index.ts';
import { TEST_IMAGE, docker, dockerReady, removeTestContainers } from '../helpers/docker.ts';
import { tempDir } from '../helpers/processes.ts';

const PREFIX = 'muster-t-deployexec-';
const silent = { info() {}, warn() {}, error() {}, debug() {} };
let ready = false;
let n = 0;

/** Ends on SIGTERM (a bare sleep as PID 1 ignores it, and every stop would wait Docker's 10 s). */
const IDLE = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'];

const spec = (name: string, over: Partial<ContainerSpec> = {}): ContainerSpec => ({
  image: TEST_IMAGE, name, command: IDLE, env: { GREETING: 'hello' }, labels: { 'muster.test': '1' }, ports: [], volumes: [], restart: 'no', ...over,
});
const request = (action: DeployAction, over: Partial<DeployRequest> = {}): DeployRequest => ({
  type: 'deploy', id: `t-${process.pid}-${++n}`, deadline: Date.now() + 60_000, action, ...over,
});

function executor(policy: DeployPolicy = { enabled: true }, stateDir = tempDir('deployexec'), extra: Partial<Parameters<typeof createDeployExecutor>[0]> = {}) {
  return {
    stateDir,
    exec: createDeployExecutor({ docker: createDockerClient(), policy, journal: createDeployJournal(stateDir), now: Date.now, log: silent, ...extra }, { settleMs: 500 }),
  };
}

async function handle(exec: ReturnType<typeof executor>['exec'], req: DeployRequest) {
  const frames: (DeployProgress | DeployResult)[] = [];
  const result = await exec.handle(req, (m) => frames.push(m));
  return { result, frames, steps: frames.filter((f): f is DeployProgress => f.type === 'deployProgress').map((f) => f.step) };
}

const state = (name: string) => docker('inspect', '--format', '{{.State.Status}}', name).catch(() => 'gone');

test.before(async () => {
  ready = await dockerReady();
  if (ready) await removeTestContainers(PREFIX);
});
test.after(async () => {
  if (ready) await removeTestContainers(PREFIX);
});

test('run starts the container as docker run would; the same id again runs nothing and answers the same', async () => {
  if (!ready) return;
  const { exec, stateDir } = executor();
  const name = `${PREFIX}run-${process.pid}`;
  const req = request({ kind: 'run', container: spec(name, { cpus: 0.5, memoryBytes: 64 * 1024 * 1024, restart: 'unless-stopped' }) });
  const first = await handle(exec, req);
  assert.is(first.result.outcome, 'succeeded', first.result.message);
  assert.equal(first.steps.slice(0, 3), ['accepted', 'pull', 'create']);
  assert.is(first.frames.at(-1), first.result);
  assert.is(await state(name), 'running');
  const cfg = JSON.parse(await docker('inspect', '--format', '{{json .HostConfig}}', name));
  assert.is(cfg.NanoCpus, 5e8);
  assert.is(cfg.Memory, 64 * 1024 * 1024);
  assert.is(cfg.RestartPolicy.Name, 'unless-stopped');
  assert.match(await docker('inspect', '--format', '{{json .Config.Env}}', name), /GREETING=hello/);

  const again = await handle(exec, req);
  assert.equal(again.result, first.result);
  assert.is(again.frames.length, 1, 'only the recorded result is sent again');
  // A new executor on the same state directory (the agent restarted) remembers too.
  const restarted = executor({ enabled: true }, stateDir);
  assert.equal((await handle(restarted.exec, req)).result, first.result);
  assert.is(statSync(`${stateDir}/deploys.json`).mode & 0o777, 0o600);
  // Twice at the same time: one run.
  const twin = request({ kind: 'run', container: spec(`${name}-twin`) });
  const [a, b] = await Promise.all([handle(exec, twin), handle(exec, twin)]);
  assert.equal(a.result, b.result);
  assert.is(a.result.outcome, 'succeeded');

  const dup = await handle(exec, request({ kind: 'run', container: spec(name) }));
  assert.is(dup.result.outcome, 'failed');
  assert.match(dup.result.message, /exists already; replace it/);
});

test('a replace whose new container dies at once leaves the old one running and says why', async () => {
  if (!ready) return;
  const { exec } = executor();
  const name = `${PREFIX}keep-${process.pid}`;
  assert.is((await handle(exec, request({ kind: 'run', container: spec(name) }))).result.outcome, 'succeeded');
  const oldId = await docker('inspect', '--format', '{{.Id}}', name);
  const bad = await handle(exec, request({ kind: 'replace', container: spec(name, { command: ['sh', '-c', 'echo cannot start >&2; exit 3'] }) }));
  assert.is(bad.result.outcome, 'failed');
  assert.match(bad.result.message, /did not keep running: exited, exit code 3/);
  assert.match(bad.result.message, /cannot start/);
  assert.is(await docker('inspect', '--format', '{{.Id}}', name), oldId);
  assert.is(await state(name), 'running');
  const left = await docker('ps', '-a', '--filter', `name=^${name}`, '--format', '{{.Names}}');
  assert.equal(left.split('\n'), [name], 'the failed new container was removed');

  // A good replace swaps it, and leaves one container by the name.
  const good = await handle(exec, request({ kind: 'replace', container: spec(name, { labels: { 'muster.test': '1', version: '2' } }) }));
  assert.is(good.result.outcome, 'succeeded', good.result.message);
  assert.ok(good.steps.includes('stop-old'));
  assert.is(await docker('inspect', '--format', '{{index .Config.Labels "version"}}', name), '2');
  assert.is.not(await docker('inspect', '--format', '{{.Id}}', name), oldId);
});

test('a replace with the same fixed host port stops the old one first and brings it back if the new one fails', async () => {
  if (!ready) return;
  const { exec } = executor();
  const name = `${PREFIX}port-${process.pid}`;
  const port = 20000 + (process.pid % 20000);
  const ports = [{ containerPort: 8080, hostPort: port, hostIp: '127.0.0.1', protocol: 'tcp' as const }];
  assert.is((await handle(exec, request({ kind: 'run', container: spec(name, { ports }) }))).result.outcome, 'succeeded');
  const oldId = await docker('inspect', '--format', '{{.Id}}', name);
  const bad = await handle(exec, request({ kind: 'replace', container: spec(name, { ports, command: ['false'] }) }));
  assert.is(bad.result.outcome, 'failed');
  assert.is(await docker('inspect', '--format', '{{.Id}}', name), oldId);
  assert.is(await state(name), 'running', 'the old container runs again');
  const good = await handle(exec, request({ kind: 'replace', container: spec(name, { ports }) }));
  assert.is(good.result.outcome, 'succeeded', good.result.message);
  assert.match(good.result.message, /short stop: same host port/);
  assert.match(await docker('port', name, '8080/tcp'), new RegExp(`127\\.0\\.0\\.1:${port}`));
});

test('stop, restart and remove by name; an unknown name fails clearly', async () => {
  if (!ready) return;
  const { exec } = executor();
  const name = `${PREFIX}ops-${process.pid}`;
  await handle(exec, request({ kind: 'run', container: spec(name) }));
  assert.is((await handle(exec, request({ kind: 'container', action: 'stop', name }))).result.outcome, 'succeeded');
  assert.is(await state(name), 'exited');
  assert.is((await handle(exec, request({ kind: 'container', action: 'restart', name }))).result.outcome, 'succeeded');
  assert.is(await state(name), 'running');
  assert.is((await handle(exec, request({ kind: 'container', action: 'remove', name }))).result.outcome, 'succeeded');
  assert.is(await state(name), 'gone');
  const missing = await handle(exec, request({ kind: 'container', action: 'stop', name }));
  assert.is(missing.result.outcome, 'failed');
  assert.match(missing.result.message, /no container named/);
});

test('a missing image fails fast with the registry\'s error', async () => {
  if (!ready) return;
  const { exec } = executor();
  const started = Date.now();
  const r = await handle(exec, request({ kind: 'run', container: spec(`${PREFIX}nope-${process.pid}`, { image: 'muster-test/does-not-exist:1' }) }));
  assert.is(r.result.outcome, 'failed');
  assert.match(r.result.message, /pulling muster-test\/does-not-exist:1 failed: /);
  assert.ok(Date.now() - started < 30_000);
});

test('refusals run nothing: deploys off, an image outside the allow-list, a job past its deadline', async () => {
  if (!ready) return;
  const name = `${PREFIX}refused-${process.pid}`;
  const off = await handle(executor({ enabled: false }).exec, request({ kind: 'run', container: spec(name) }));
  assert.is(off.result.outcome, 'refused');
  assert.match(off.result.message, /--no-deploy/);
  assert.equal(off.steps, []);
  const listed = await handle(executor({ enabled: true, allowImages: ['registry.lab/*'] }).exec, request({ kind: 'run', container: spec(name) }));
  assert.is(listed.result.outcome, 'refused');
  assert.match(listed.result.message, /not allowed on this node \(--allow-image registry\.lab\/\*\)/);
  const late = await handle(executor().exec, request({ kind: 'run', container: spec(name) }, { deadline: Date.now() - 1 }));
  assert.is(late.result.outcome, 'refused');
  assert.match(late.result.message, /after its deadline/);
  assert.is(await state(name), 'gone');
});

test('unit actions need systemd; without it they fail and say so, with it they run systemctl', async () => {
  const noSystemd = executor({ enabled: true }, tempDir('deployexec'), { hasSystemd: () => false });
  const r = await handle(noSystemd.exec, request({ kind: 'unit', action: 'restart', unit: 'nginx.service' }));
  assert.is(r.result.outcome, 'failed');
  assert.match(r.result.message, /systemd is not running this node/);
  const calls: string[][] = [];
  const withSystemd = executor({ enabled: true }, tempDir('deployexec'), {
    hasSystemd: () => true,
    systemctl: async (args) => { calls.push(args); return args[0] === 'is-active' ? { code: 0, stdout: 'active\n', stderr: '' } : { code: 0, stdout: '', stderr: '' }; },
  });
  const ok = await handle(withSystemd.exec, request({ kind: 'unit', action: 'restart', unit: 'nginx.service' }));
  assert.is(ok.result.outcome, 'succeeded');
  assert.equal(calls, [['restart', '--', 'nginx.service'], ['is-active', '--', 'nginx.service']]);
  assert.match(ok.result.message, /now active/);
});

test('allow-list patterns, the create body and multiplexed logs', () => {
  assert.ok(imageAllowed('registry.lab/web:1', ['registry.lab/*']));
  assert.ok(imageAllowed('nginx', ['nginx:latest']));
  assert.not.ok(imageAllowed('evil.io/registry.lab/x', ['registry.lab/*']));
  assert.not.ok(imageAllowed('nginx', ['nginx:1.27']));
  const body = createBody(spec('x', { ports: [{ containerPort: 80, protocol: 'tcp' }, { containerPort: 53, hostPort: 5353, hostIp: '127.0.0.1', protocol: 'udp' }], volumes: [{ source: '/srv', target: '/data', readOnly: true }] }));
  assert.equal(body.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.equal((body.HostConfig as Record<string, unknown>).PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }] });
  assert.equal((body.HostConfig as Record<string, unknown>).Binds, ['/srv:/data:ro']);
  const frame = (stream: number, text: string) => Buffer.concat([Buffer.from([stream, 0, 0, 0, 0, 0, 0, text.length]), Buffer.from(text)]);
  assert.is(demuxLogs(Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n')])), 'out\nerr\n');
  assert.is(demuxLogs(Buffer.from('plain tty output')), 'plain tty output');
});

test.run();

