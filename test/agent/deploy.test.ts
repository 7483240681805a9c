/**
 * The agent's deploy executor: against the real Docker Engine and the local
 * test image (what it runs, replaces, stops and refuses, and that a job id
 * runs once, across restarts too), against a fake Engine on a unix socket
 * (how a pull is asked for, streamed and bounded), and inside the agent
 * (frames over the link, a result made during a cut sent after the next
 * welcome).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket as HubSocket } from 'ws';
import { createDockerClient, type DockerError } from '../../agent/docker-client.ts';
import { createBody, createDeployExecutor, demuxLogs, imageAllowed, parseImageRef, type DeployExecutor, type DeployExecutorDeps, type DeployExecutorOptions, type DeployPolicy } from '../../agent/deploy.ts';
import { JOURNAL_FILE, createDeployJournal } from '../../agent/deploy-journal.ts';
import { createAgent } from '../../agent/agent.ts';
import { createStateStore } from '../../agent/state.ts';
import { AGENT_USAGE, UsageError, parseAgentArgs } from '../../agent/main.ts';
import {
  AGENT_PATH, PROTOCOL_VERSION, createAgentMessageDecoder,
  type AgentMessage, type ContainerSpec, type DeployAction, type DeployProgress, type DeployRequest, type DeployResult, type HostFacts, type SampleData,
} from '../../protocol/index.ts';
import { TEST_IMAGE, TEST_LABEL, docker, dockerReady, removeTestContainers } from '../helpers/docker.ts';
import { freePort, tempDir, waitFor } from '../helpers/processes.ts';

const PREFIX = 'muster-deploytest-';
/** Built by the health-check test from the test image; removed at the end. */
const HEALTH_IMAGE = 'muster-test/busybox-health:deploytest';
const RUN = `${PREFIX}${process.pid}-`;
const silent = { info() {}, warn() {}, error() {}, debug() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dockerOk = false;
let n = 0;

/** busybox httpd in the foreground; the test image has a page in /www, so GET / is a 200. */
const HTTPD = ['httpd', '-f', '-p', '80', '-h', '/www'];

const spec = (name: string, over: Partial<ContainerSpec> = {}): ContainerSpec => ({
  image: TEST_IMAGE, name, command: ['sleep', '300'], env: { GREETING: 'hello' }, labels: { 'muster.test': '1' },
  ports: [], volumes: [], restart: 'no', ...over,
});
const request = (action: DeployAction, over: Partial<DeployRequest> = {}): DeployRequest => ({
  type: 'deploy', id: `t-${process.pid}-${++n}`, deadline: Date.now() + 60_000, action, ...over,
});

function executor(policy: DeployPolicy = { enabled: true }, stateDir = tempDir('deploytest'), extra: Partial<DeployExecutorDeps> = {}, opts: DeployExecutorOptions = {}) {
  const exec = createDeployExecutor(
    { docker: createDockerClient(), policy, journal: createDeployJournal(stateDir), now: Date.now, log: silent, ...extra },
    // httpd as PID 1 ignores SIGTERM, so every stop would wait the full timeout: 2 s, not 10.
    { settleMs: 500, stopTimeoutS: 2, ...opts },
  );
  return { exec, stateDir };
}

async function handle(exec: DeployExecutor, req: DeployRequest) {
  const frames: (DeployProgress | DeployResult)[] = [];
  const started = Date.now();
  const result = await exec.handle(req, (m) => frames.push(m));
  const progress = frames.filter((f): f is DeployProgress => f.type === 'deployProgress');
  return { result, frames, progress, steps: progress.map((f) => f.step), ms: Date.now() - started };
}

interface Listed { Id: string; Names: string[]; State: string; Labels: Record<string, string>; Ports: { PrivatePort: number; PublicPort?: number; IP?: string }[] }
const api = createDockerClient();
/** Every container of this run (any state), as the Engine lists them. */
const listRun = async () => (await api.get<Listed[]>(`/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [TEST_LABEL] }))}`))
  .filter((c) => c.Names.some((x) => x.startsWith(`/${RUN}`)));
const named = async (name: string) => (await listRun()).filter((c) => c.Names.includes(`/${name}`));
const inspect = (name: string) => api.get<{ Id: string; State: { Status: string; Running: boolean; StartedAt: string }; Config: { Labels: Record<string, string>; Env: string[] }; HostConfig: Record<string, any> }>(`/containers/${name}/json`);
const status = (name: string) => inspect(name).then((c) => c.State.Status, () => 'gone');

const httpStatus = (port: number) => fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0);
/** True when some running container labelled muster.service=SVC answers HTTP on its published port. */
async function serviceAnswers(svc: string): Promise<boolean> {
  const list = await api.get<Listed[]>(`/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: [`muster.service=${svc}`] }))}`);
  for (const c of list) {
    for (const p of c.Ports) if (p.PublicPort && (await httpStatus(p.PublicPort)) === 200) return true;
  }
  return false;
}

test.before(async () => {
  dockerOk = await dockerReady();
  if (dockerOk) await removeTestContainers(PREFIX);
});
test.after(async () => {
  if (!dockerOk) return;
  await removeTestContainers(PREFIX);
  await docker('rmi', HEALTH_IMAGE).catch(() => '');
});

// --- pure parts -------------------------------------------------------------

test('image references, allow-list patterns, the create body and multiplexed logs', () => {
  assert.equal(parseImageRef('muster-test/busybox'), { name: 'muster-test/busybox' });
  assert.equal(parseImageRef('registry.lab:5000/web'), { name: 'registry.lab:5000/web' }, 'a registry port is not a tag');
  assert.equal(parseImageRef('registry.lab:5000/web:1.2'), { name: 'registry.lab:5000/web', tag: '1.2' });
  assert.equal(parseImageRef('nginx@sha256:abc'), { name: 'nginx', digest: 'sha256:abc' });

  assert.ok(imageAllowed('registry.lab/web:1', ['registry.lab/*']));
  assert.ok(imageAllowed('muster-test/busybox', ['muster-test/*']));
  assert.ok(imageAllowed('nginx', ['nginx:latest']), 'no tag means latest');
  assert.ok(imageAllowed('registry.lab:5000/web', ['registry.lab:5000/web:latest']));
  assert.not.ok(imageAllowed('evil.io/registry.lab/x', ['registry.lab/*']), 'patterns are anchored');
  assert.not.ok(imageAllowed('nginx', ['nginx:1.27']));
  assert.not.ok(imageAllowed('registry.lab.evil.io/x', ['registry.lab/*']), 'a dot is a dot, not any character');

  const body = createBody(spec('x', {
    command: HTTPD, cpus: 0.5, memoryBytes: 64 * 1024 * 1024, restart: 'on-failure',
    ports: [{ containerPort: 80, protocol: 'tcp' }, { containerPort: 53, hostPort: 5353, hostIp: '127.0.0.1', protocol: 'udp' }],
    volumes: [{ source: '/srv', target: '/data', readOnly: true }, { source: 'cache', target: '/cache' }],
  }));
  assert.equal(body.Cmd, HTTPD);
  assert.equal(body.Env, ['GREETING=hello']);
  assert.equal(body.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  const host = body.HostConfig as Record<string, unknown>;
  assert.equal(host.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }] });
  assert.equal(host.Binds, ['/srv:/data:ro', 'cache:/cache']);
  assert.equal(host.RestartPolicy, { Name: 'on-failure' });
  assert.is(host.NanoCpus, 5e8);
  assert.is(host.Memory, 64 * 1024 * 1024);
  assert.not.ok('Cmd' in createBody(spec('y', { command: undefined })), 'no command: the image CMD');

  const frame = (stream: number, text: string) => {
    const head = Buffer.alloc(8);
    head[0] = stream;
    head.writeUInt32BE(Buffer.byteLength(text), 4);
    return Buffer.concat([head, Buffer.from(text)]);
  };
  assert.is(demuxLogs(Buffer.concat([frame(1, 'out\n'), frame(2, 'err: ü\n')])), 'out\nerr: ü\n');
  assert.is(demuxLogs(Buffer.from('plain tty output')), 'plain tty output');
  assert.is(demuxLogs(Buffer.alloc(0)), '');
});

test('agent flags: --no-deploy, --allow-image (repeatable), not both; both in --help', () => {
  const hub = ['--hub', 'http://hub.lan:7070'];
  const cfg = (args: string[]) => { const c = parseAgentArgs([...hub, ...args], {}); if (typeof c === 'string') throw new Error(c); return c; };
  assert.equal(cfg([]).deploy, { enabled: true });
  assert.equal(cfg(['--no-deploy']).deploy, { enabled: false });
  assert.equal(cfg(['--allow-image', 'registry.lab/*', '--allow-image', 'muster-test/*']).deploy, { enabled: true, allowImages: ['registry.lab/*', 'muster-test/*'] });
  assert.throws(() => cfg(['--no-deploy', '--allow-image', 'x/*']), (e: Error) => e instanceof UsageError && /contradict/.test(e.message));
  assert.throws(() => cfg(['--allow-image', 'bad pattern']), (e: Error) => e instanceof UsageError && /--allow-image must be an image pattern/.test(e.message));
  assert.match(AGENT_USAGE, /--no-deploy\s+refuse every deploy/);
  assert.match(AGENT_USAGE, /--allow-image PAT\s+deploy only images matching PAT/);
});

test('the journal: by id, bounded, atomic 0600 file, read back by a new instance, a damaged file starts empty', () => {
  const dir = join(tempDir('journal'), 'state');
  const j = createDeployJournal(dir, 3);
  const r = (id: string, outcome: DeployResult['outcome'] = 'succeeded'): DeployResult => ({ type: 'deployResult', id, ts: 1, outcome, message: id });
  for (const id of ['a', 'b', 'c', 'd']) j.record(r(id));
  assert.is(j.get('a'), undefined, 'the oldest is dropped beyond the bound');
  j.record(r('b', 'failed')); // recording again makes it the newest
  j.record(r('e'));
  assert.is(j.get('c'), undefined);
  assert.is(j.get('b')?.outcome, 'failed');
  const file = join(dir, JOURNAL_FILE);
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.equal((JSON.parse(readFileSync(file, 'utf8')) as DeployResult[]).map((x) => x.id), ['d', 'b', 'e']);
  const again = createDeployJournal(dir, 3);
  assert.equal(again.get('e'), r('e'));
  writeFileSync(file, '{ torn');
  assert.is(createDeployJournal(dir).get('e'), undefined);
});

// --- a fake Engine: the pull, without a registry -----------------------------

/** An HTTP server on a unix socket that answers like the Engine, as the test tells it. */
async function fakeEngine(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ socketPath: string; urls: string[]; close: () => Promise<void> }> {
  const socketPath = join(tempDir('fake-engine'), 'docker.sock');
  const urls: string[] = [];
  const server: Server = createServer((req, res) => {
    urls.push(`${req.method} ${req.url}`);
    answer(req, res);
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  return {
    socketPath, urls,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

test('stream(): JSON lines across chunks, non-JSON skipped, the daemon\'s message on an error status, bounded by its time limit', async () => {
  const engine = await fakeEngine((req, res) => {
    if (req.url === '/lines') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"status":"a"}\n{"stat');
      setTimeout(() => res.end('us":"b"}\nnot json\n\n{"status":"c"}'), 20);
    } else if (req.url === '/fail') {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end('{"message":"no such image, says the registry"}');
    } else if (req.url === '/broken') {
      res.writeHead(200);
      res.write('{"status":"half"}\n');
      setTimeout(() => res.destroy(), 20);
    } // /hang: never answers
  });
  const client = createDockerClient({ socketPath: engine.socketPath });
  try {
    const lines: unknown[] = [];
    await client.stream('POST', '/lines', (l) => lines.push(l.status), 5_000);
    assert.equal(lines, ['a', 'b', 'c']);

    const err = await client.stream('POST', '/fail', () => {}, 5_000).then(() => undefined, (e: DockerError) => e);
    assert.is(err?.statusCode, 500);
    assert.match(err!.message, /no such image, says the registry/);

    const broken = await client.stream('POST', '/broken', () => {}, 5_000).then(() => undefined, (e: DockerError) => e);
    assert.match(broken!.message, /broke off/);

    const t0 = Date.now();
    const hung = await client.stream('POST', '/hang', () => {}, 300).then(() => undefined, (e: DockerError) => e);
    assert.is(hung?.code, 'MUSTER_ERR_DOCKER_TIMEOUT');
    assert.ok(Date.now() - t0 < 2_000, `the limit holds (${Date.now() - t0} ms)`);
  } finally {
    await engine.close();
  }
});

test('a pull asks for one tag and the platform, forwards a throttled few progress lines, and fails with the registry\'s error or at its time limit', async () => {
  let mode: 'ok' | 'error' | 'hang' = 'ok';
  const engine = await fakeEngine((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"message":"No such image"}');
    } else if (req.url!.startsWith('/images/create')) {
      if (mode === 'hang') return;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const lines = mode === 'ok'
        ? Array.from({ length: 50 }, (_, i) => ({ status: 'Downloading', id: 'abc123', progress: `[${i}/50]` }))
        : [{ status: 'Pulling fs layer', id: 'abc123' }, { errorDetail: { message: 'unauthorized: authentication required' }, error: 'unauthorized: authentication required' }];
      res.end(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    } else {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end('{"message":"the fake engine creates nothing"}');
    }
  });
  const exec = (opts: DeployExecutorOptions = {}) => createDeployExecutor({
    docker: createDockerClient({ socketPath: engine.socketPath }), policy: { enabled: true }, journal: createDeployJournal(tempDir('deploytest')), now: Date.now, log: silent,
  }, opts);
  try {
    const ok = await handle(exec(), request({ kind: 'run', container: spec('pulled', { image: 'registry.lab:5000/team/web', platform: 'linux/arm64' }) }));
    const pullUrl = engine.urls.find((u) => u.startsWith('POST /images/create'))!;
    const q = new URL(pullUrl.slice(5), 'http://x').searchParams;
    assert.is(q.get('fromImage'), 'registry.lab:5000/team/web');
    assert.is(q.get('tag'), 'latest', 'never an empty tag: the Engine would pull every tag');
    assert.is(q.get('platform'), 'linux/arm64');
    assert.ok(engine.urls.some((u) => u.startsWith('POST /containers/create?') && u.includes('platform=linux%2Farm64')));
    const pulls = ok.progress.filter((p) => p.step === 'pull').map((p) => p.message);
    assert.is(pulls[0], 'pulling registry.lab:5000/team/web for linux/arm64');
    assert.is(pulls.at(-1), 'pulled registry.lab:5000/team/web');
    assert.ok(pulls.length <= 4, `50 progress lines in a burst become a few (${pulls.length})`);
    assert.is(ok.result.outcome, 'failed');
    assert.is(ok.result.message, 'creating pulled failed: the fake engine creates nothing');

    mode = 'error';
    const denied = await handle(exec(), request({ kind: 'run', container: spec('denied', { image: 'registry.lab/private:1' }) }));
    assert.is(denied.result.outcome, 'failed');
    assert.is(denied.result.message, 'pulling registry.lab/private:1 failed: unauthorized: authentication required');
    assert.not.ok(engine.urls.some((u) => u.includes('name=denied')), 'nothing is created after a failed pull');

    mode = 'hang';
    const hung = await handle(exec({ pullTimeoutMs: 300 }), request({ kind: 'run', container: spec('hung', { image: 'registry.lab/slow:1' }) }));
    assert.is(hung.result.outcome, 'failed');
    assert.match(hung.result.message, /pulling registry.lab\/slow:1 failed: .*no end within/);
    assert.ok(hung.ms < 2_000, `the pull time limit holds (${hung.ms} ms)`);
  } finally {
    await engine.close();
  }
});

// --- the real Engine ---------------------------------------------------------

test('run: busybox httpd answers on its published port; progress in order; the same id again runs nothing; a taken name fails', async () => {
  if (!dockerOk) return;
  const { exec, stateDir } = executor();
  const name = `${RUN}web`;
  const port = await freePort();
  const req = request({ kind: 'run', container: spec(name, {
    command: HTTPD, labels: { 'muster.test': '1', 'muster.service': `deploytest${process.pid}` },
    ports: [{ containerPort: 80, hostPort: port, hostIp: '127.0.0.1', protocol: 'tcp' }], cpus: 0.5, memoryBytes: 64 * 1024 * 1024,
  }) });
  const first = await handle(exec, req);
  assert.is(first.result.outcome, 'succeeded', first.result.message);
  assert.equal(first.steps, ['accepted', 'pull', 'create', 'start']);
  assert.is(first.progress[1]!.message, `pulling ${TEST_IMAGE}: already present`);
  assert.match(first.progress[2]!.message, new RegExp(`^created ${name} \\([0-9a-f]{12}\\)$`));
  assert.is(first.frames.at(-1), first.result, 'the result is the last frame');
  assert.ok(first.frames.every((f) => f.id === req.id));
  const c = await inspect(name);
  assert.is(c.State.Status, 'running');
  assert.is(first.result.containerId, c.Id);
  assert.is(c.Config.Labels['muster.service'], `deploytest${process.pid}`);
  assert.ok(c.Config.Env.includes('GREETING=hello'));
  assert.is(c.HostConfig.NanoCpus, 5e8);
  assert.is(await httpStatus(port), 200, 'httpd answers on the host port');

  const before = (await listRun()).length;
  const again = await handle(exec, req);
  assert.equal(again.frames, [first.result], 'only the recorded result is sent again');
  // The agent restarted: a new executor on the same state directory remembers.
  const restarted = executor({ enabled: true }, stateDir);
  assert.equal((await handle(restarted.exec, req)).frames, [first.result]);
  assert.is((await listRun()).length, before, 'nothing new was created');
  assert.is(statSync(join(stateDir, JOURNAL_FILE)).mode & 0o777, 0o600);

  // The same job twice at once (the hub sent it again while it ran): one run, one promise.
  const twin = request({ kind: 'run', container: spec(`${RUN}twin`) });
  const sends: string[] = [];
  const p1 = exec.handle(twin, (m) => sends.push(m.type));
  const p2 = exec.handle(twin, () => assert.unreachable('the second call gets the first one\'s promise, not its own run'));
  assert.is(p1, p2);
  assert.is((await p1).outcome, 'succeeded');
  assert.is((await named(`${RUN}twin`)).length, 1);

  const taken = await handle(exec, request({ kind: 'run', container: spec(name) }));
  assert.is(taken.result.outcome, 'failed');
  assert.match(taken.result.message, /a container named .* exists already/);
  assert.equal(taken.steps, ['accepted'], 'nothing was pulled or created');
});

test('replace with a new label: the service answers all along, one container by the name is left, running, with the label', async () => {
  if (!dockerOk) return;
  const { exec } = executor();
  const name = `${RUN}rep`;
  const svc = `deploytestrep${process.pid}`;
  // No fixed host port: Docker picks one per container, so old and new can run side by side.
  const web = (version: string) => spec(name, { command: HTTPD, labels: { 'muster.test': '1', 'muster.service': svc, version }, ports: [{ containerPort: 80, protocol: 'tcp' }] });
  const first = await handle(exec, request({ kind: 'run', container: web('1') }));
  assert.is(first.result.outcome, 'succeeded', first.result.message);
  assert.ok(await serviceAnswers(svc));

  let polls = 0;
  let failures = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      polls++;
      if (!(await serviceAnswers(svc))) failures++;
      await sleep(50);
    }
  })();
  const rep = await handle(exec, request({ kind: 'replace', container: web('2') }));
  polling = false;
  await poller;
  assert.is(rep.result.outcome, 'succeeded', rep.result.message);
  assert.equal(rep.steps, ['accepted', 'pull', 'create', 'start', 'stop-old']);
  assert.ok(polls > 5, `the poller ran during the replace (${polls} polls in ${rep.ms} ms)`);
  assert.is(failures, 0, `the service answered through the replace (${failures} of ${polls} polls found none)`);
  const left = await listRun().then((l) => l.filter((c) => c.Names.some((x) => x.startsWith(`/${name}`))));
  assert.equal(left.map((c) => c.Names[0]), [`/${name}`], 'exactly one container: no -new- or -old- left over');
  assert.is(left[0]!.State, 'running');
  assert.is(left[0]!.Labels.version, '2');
  assert.is(left[0]!.Id, rep.result.containerId);
  assert.is.not(rep.result.containerId, first.result.containerId);
  assert.ok(await serviceAnswers(svc));
  if (process.env.MUSTER_TEST_DEBUG) process.stderr.write(`side-by-side replace: ${rep.ms} ms, ${polls} polls, ${failures} failed\n`);
});

test('a replace whose new container exits at once fails with its exit code and output, and leaves the old one untouched', async () => {
  if (!dockerOk) return;
  const { exec } = executor();
  const name = `${RUN}keep`;
  assert.is((await handle(exec, request({ kind: 'run', container: spec(name) }))).result.outcome, 'succeeded');
  const old = await inspect(name);
  // The test image has no `false` applet: the Engine cannot even start it.
  const bad = await handle(exec, request({ kind: 'replace', container: spec(name, { command: ['false'] }) }));
  assert.is(bad.result.outcome, 'failed');
  assert.match(bad.result.message, /^starting muster-deploytest-.*-keep-new-.* failed: .*"false": executable file not found/);
  const exits = await handle(exec, request({ kind: 'replace', container: spec(name, { command: ['sh', '-c', 'exit 1'] }) }));
  assert.is(exits.result.outcome, 'failed');
  assert.match(exits.result.message, /did not keep running: exited, exit code 1; no output$/);
  assert.not.ok(exits.steps.includes('stop-old'), 'the old one was never touched');
  const printed = await handle(exec, request({ kind: 'replace', container: spec(name, { command: ['sh', '-c', 'echo config missing >&2; exit 3'] }) }));
  assert.match(printed.result.message, /exit code 3; last output:\nconfig missing$/);
  const now = await inspect(name);
  assert.is(now.Id, old.Id);
  assert.is(now.State.Status, 'running');
  assert.is(now.State.StartedAt, old.State.StartedAt, 'not restarted either');
  assert.equal((await listRun()).filter((c) => c.Names.some((x) => x.startsWith(`/${name}`))).map((c) => c.Names[0]), [`/${name}`], 'the failed new containers were removed');
});

test('a replace that publishes the same fixed host port stops the old one first (a short gap), and brings it back if the new one fails', async () => {
  if (!dockerOk) return;
  const { exec } = executor();
  const name = `${RUN}port`;
  const port = await freePort();
  const web = (over: Partial<ContainerSpec> = {}) => spec(name, { command: HTTPD, ports: [{ containerPort: 80, hostPort: port, hostIp: '127.0.0.1', protocol: 'tcp' }], ...over });
  assert.is((await handle(exec, request({ kind: 'run', container: web() }))).result.outcome, 'succeeded');
  const oldId = (await inspect(name)).Id;
  const bad = await handle(exec, request({ kind: 'replace', container: web({ command: ['sh', '-c', 'exit 1'] }) }));
  assert.is(bad.result.outcome, 'failed');
  assert.match(bad.result.message, /exit code 1/);
  assert.is((await inspect(name)).Id, oldId);
  assert.is(await status(name), 'running', 'the old container runs again');
  await waitFor('the old container to answer again', async () => (await httpStatus(port)) === 200, 5_000, 50);

  // Measure the gap: the longest run of failed polls on the fixed port.
  let downSince = 0;
  let longestGap = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const ok = (await httpStatus(port)) === 200;
      const t = Date.now();
      if (!ok && !downSince) downSince = t;
      if (ok && downSince) { longestGap = Math.max(longestGap, t - downSince); downSince = 0; }
      await sleep(25);
    }
  })();
  const good = await handle(exec, request({ kind: 'replace', container: web({ labels: { 'muster.test': '1', version: '2' } }) }));
  await waitFor('the new container to answer', async () => (await httpStatus(port)) === 200, 5_000, 25);
  await sleep(100);
  polling = false;
  await poller;
  assert.is(good.result.outcome, 'succeeded', good.result.message);
  assert.match(good.result.message, /short stop: same host port/);
  assert.is((await inspect(name)).Config.Labels.version, '2');
  assert.is((await named(name)).length, 1);
  // Stop timeout (2 s here; httpd ignores SIGTERM) + create + start; the settle wait overlaps with serving.
  assert.ok(longestGap < 6_000, `gap ${longestGap} ms`);
  if (process.env.MUSTER_TEST_DEBUG) process.stderr.write(`fixed-port replace: ${good.ms} ms, HTTP gap ${longestGap} ms\n`);
});

test('an image with a health check: the deploy waits for healthy, and an unhealthy one fails and is removed', async () => {
  if (!dockerOk) return;
  // Built here from the local test image (no registry needed); HEALTH=bad in the env makes the check fail.
  const dir = tempDir('health-image');
  writeFileSync(join(dir, 'Dockerfile'), `FROM ${TEST_IMAGE}\nHEALTHCHECK --interval=300ms --timeout=1s --retries=2 CMD sh -c 'test "$HEALTH" != bad'\n`);
  await docker('build', '-q', '-t', HEALTH_IMAGE, dir);
  const { exec } = executor({ enabled: true }, tempDir('deploytest'), {}, { healthTimeoutMs: 10_000 });
  const good = await handle(exec, request({ kind: 'run', container: spec(`${RUN}healthy`, { image: HEALTH_IMAGE }) }));
  assert.is(good.result.outcome, 'succeeded', good.result.message);
  assert.equal(good.steps, ['accepted', 'pull', 'create', 'health', 'health']);
  assert.is(good.progress.at(-1)!.message, `${RUN}healthy healthy`);
  assert.is((await inspect(`${RUN}healthy`)).State.Status, 'running');

  const sick = await handle(exec, request({ kind: 'run', container: spec(`${RUN}sick`, { image: HEALTH_IMAGE, env: { HEALTH: 'bad' } }) }));
  assert.is(sick.result.outcome, 'failed');
  assert.is(sick.result.message, `${RUN}sick is unhealthy`);
  assert.is(await status(`${RUN}sick`), 'gone', 'the unhealthy container was removed');
  assert.ok(sick.ms < 8_000, `unhealthy noticed in ${sick.ms} ms`);
});

test('stop, restart and remove by name; an unknown name fails clearly', async () => {
  if (!dockerOk) return;
  const { exec } = executor();
  const name = `${RUN}ops`;
  assert.is((await handle(exec, request({ kind: 'run', container: spec(name) }))).result.outcome, 'succeeded');
  const stop = await handle(exec, request({ kind: 'container', action: 'stop', name }));
  assert.is(stop.result.outcome, 'succeeded', stop.result.message);
  assert.equal(stop.steps, ['accepted', 'stop']);
  assert.is(await status(name), 'exited');
  const restart = await handle(exec, request({ kind: 'container', action: 'restart', name }));
  assert.is(restart.result.outcome, 'succeeded', restart.result.message);
  assert.is(await status(name), 'running');
  const remove = await handle(exec, request({ kind: 'container', action: 'remove', name }));
  assert.is(remove.result.outcome, 'succeeded', remove.result.message);
  assert.equal(remove.steps, ['accepted', 'stop', 'remove']);
  assert.is(await status(name), 'gone');
  const missing = await handle(exec, request({ kind: 'container', action: 'restart', name }));
  assert.is(missing.result.outcome, 'failed');
  assert.is(missing.result.message, `no container named ${name} on this node`);

  // Two jobs on the same name at once run one after the other: the stop finds the container the run creates.
  const [run, stop2] = await Promise.all([
    handle(exec, request({ kind: 'run', container: spec(name) })),
    handle(exec, request({ kind: 'container', action: 'stop', name })),
  ]);
  assert.is(run.result.outcome, 'succeeded', run.result.message);
  assert.is(stop2.result.outcome, 'succeeded', stop2.result.message);
  assert.equal(stop2.progress.map((p) => p.message).slice(0, 2), ['accepted: stop container ' + name, 'waiting for another job on the same target to finish']);
  assert.is(await status(name), 'exited');
});

test('a missing image fails within seconds with Docker\'s own error text, and nothing is created', async () => {
  if (!dockerOk) return;
  const image = 'muster-test/does-not-exist:1';
  // What `docker pull` says here (no registry is reachable): the executor must pass the same text on.
  const cli = await docker('pull', image).then(() => '', (e: Error) => e.message);
  const daemonSays = /Error response from daemon: (.*)$/m.exec(cli)?.[1]?.trim();
  const { exec } = executor();
  const name = `${RUN}missing`;
  const r = await handle(exec, request({ kind: 'run', container: spec(name, { image }) }));
  assert.is(r.result.outcome, 'failed');
  assert.match(r.result.message, /^pulling muster-test\/does-not-exist:1 failed: /);
  if (daemonSays) assert.ok(r.result.message.includes(daemonSays), `${r.result.message}\n  does not carry\n${daemonSays}`);
  assert.ok(r.ms < 10_000, `failed in ${r.ms} ms`);
  assert.equal(r.steps, ['accepted', 'pull']);
  if (process.env.MUSTER_TEST_DEBUG) process.stderr.write(`missing image: failed in ${r.ms} ms: ${r.result.message}\n`);
  assert.is(await status(name), 'gone');
});

test('refusals run nothing: deploys off, an image outside the allow-list, a job past its deadline', async () => {
  if (!dockerOk) return;
  const name = `${RUN}refused`;
  const off = await handle(executor({ enabled: false }).exec, request({ kind: 'run', container: spec(name) }));
  assert.is(off.result.outcome, 'refused');
  assert.is(off.result.message, 'deploys are turned off on this node (muster agent --no-deploy)');
  assert.equal(off.steps, [], 'no progress: nothing ran');
  const offStop = await handle(executor({ enabled: false }).exec, request({ kind: 'container', action: 'stop', name: 'anything' }));
  assert.is(offStop.result.outcome, 'refused', 'container and unit actions too');

  const listed = await handle(executor({ enabled: true, allowImages: ['registry.lab/*', 'nginx:*'] }).exec, request({ kind: 'run', container: spec(name) }));
  assert.is(listed.result.outcome, 'refused');
  assert.is(listed.result.message, `image ${TEST_IMAGE} is not allowed on this node (--allow-image registry.lab/*, nginx:*)`);
  assert.equal(listed.steps, []);

  const late = await handle(executor().exec, request({ kind: 'run', container: spec(name) }, { deadline: Date.now() - 1 }));
  assert.is(late.result.outcome, 'refused');
  assert.match(late.result.message, /after its deadline/);
  assert.is(await status(name), 'gone', 'no container was created by any of them');

  // A refusal is recorded like any result: the same id later is answered the same.
  const stateDir = tempDir('deploytest');
  const req = request({ kind: 'run', container: spec(name) });
  await handle(executor({ enabled: false }, stateDir).exec, req);
  assert.is((await handle(executor({ enabled: true }, stateDir).exec, req)).result.outcome, 'refused');

  const allowed = await handle(executor({ enabled: true, allowImages: ['muster-test/*'] }).exec, request({ kind: 'run', container: spec(name) }));
  assert.is(allowed.result.outcome, 'succeeded', allowed.result.message);
});

test('unit actions: with no systemd as PID 1 they fail and say why, running nothing; with systemd they run systemctl without a shell', async () => {
  const calls: string[][] = [];
  const systemctl = async (args: string[]) => {
    calls.push(args);
    if (args[0] === 'is-active') return { code: 0, stdout: 'active\n', stderr: '' };
    if (args[2] === 'missing.service') return { code: 5, stdout: '', stderr: 'Failed to restart missing.service: Unit missing.service not found.\n' };
    return { code: 0, stdout: '', stderr: '' };
  };
  if (!existsSync('/run/systemd/system')) {
    // This host: the real detection, no injection.
    const r = await handle(executor({ enabled: true }, tempDir('deploytest'), { systemctl }).exec, request({ kind: 'unit', action: 'restart', unit: 'nginx.service' }));
    assert.is(r.result.outcome, 'failed');
    assert.match(r.result.message, /^systemd is not running this node \(it is not PID 1: no \/run\/systemd\/system\), so there is no unit nginx\.service to restart$/);
    assert.equal(calls, [], 'systemctl was not run');
  }
  const none = await handle(executor({ enabled: true }, tempDir('deploytest'), { systemctl, hasSystemd: () => false }).exec, request({ kind: 'unit', action: 'stop', unit: 'nginx.service' }));
  assert.match(none.result.message, /systemd is not running this node/);

  const withSystemd = executor({ enabled: true }, tempDir('deploytest'), { hasSystemd: () => true, systemctl }).exec;
  const ok = await handle(withSystemd, request({ kind: 'unit', action: 'restart', unit: 'nginx.service' }));
  assert.is(ok.result.outcome, 'succeeded');
  assert.is(ok.result.message, 'nginx.service restarted; now active');
  // The agent asks systemd for the unit's other names first: an alias of a protected unit is that unit.
  assert.equal(calls, [['show', '--property=Id,Names', '--', 'nginx.service'], ['restart', '--', 'nginx.service'], ['is-active', '--', 'nginx.service']]);
  const bad = await handle(withSystemd, request({ kind: 'unit', action: 'restart', unit: 'missing.service' }));
  assert.is(bad.result.outcome, 'failed');
  assert.is(bad.result.message, 'systemctl restart missing.service failed (exit 5): Failed to restart missing.service: Unit missing.service not found.');
});

// --- inside the agent --------------------------------------------------------

const FACTS = { hostname: 'h', machineId: 'm' } as unknown as HostFacts;
const SAMPLE = {} as SampleData;

/** A hub that speaks just enough: it welcomes (unless told to hold it) and records every frame. */
async function fakeHub() {
  const wss = new WebSocketServer({ port: 0, path: AGENT_PATH });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const decode = createAgentMessageDecoder();
  const frames: { conn: number; msg: AgentMessage }[] = [];
  const invalid: string[] = [];
  let conns = 0;
  let current: HubSocket | undefined;
  let holdWelcome = false;
  const welcome = (ws: HubSocket) => ws.send(JSON.stringify({ type: 'welcome', protocol: PROTOCOL_VERSION, node: 'n1', ackedSeq: 0, heartbeatMs: 60_000 }));
  wss.on('connection', (ws) => {
    const conn = ++conns;
    current = ws;
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as AgentMessage;
      // Only deploy frames are checked: the stub collectors' facts and samples are not real ones.
      const r = decode(data.toString());
      if (!r.ok && (msg.type === 'deployProgress' || msg.type === 'deployResult')) invalid.push(r.reason);
      frames.push({ conn, msg });
      if (msg.type === 'hello' && !holdWelcome) welcome(ws);
    });
  });
  const port = (wss.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`, frames, invalid,
    conns: () => conns,
    send: (m: unknown) => current!.send(JSON.stringify(m)),
    cut: () => current!.terminate(),
    hold: (v: boolean) => { holdWelcome = v; },
    welcomeNow: () => welcome(current!),
    deployFrames: (conn?: number) => frames.filter((f) => (conn === undefined || f.conn === conn) && (f.msg.type === 'deployProgress' || f.msg.type === 'deployResult')).map((f) => f.msg as DeployProgress | DeployResult),
    close: () => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }),
  };
}

test('the agent passes deploy frames to the executor and its frames to the hub; a result made during a cut goes out after the next welcome', async () => {
  const hub = await fakeHub();
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const seen: DeployRequest[] = [];
  const deploys: DeployExecutor = {
    async handle(req, send) {
      seen.push(req);
      send({ type: 'deployProgress', id: req.id, ts: Date.now(), step: 'accepted', message: 'accepted' });
      await gate;
      const result: DeployResult = { type: 'deployResult', id: req.id, ts: Date.now(), outcome: 'succeeded', message: 'done' };
      send(result);
      return result;
    },
  };
  const agent = createAgent({ collectors: { facts: async () => FACTS, sample: async () => SAMPLE }, state: createStateStore(tempDir('deploy-agent')), log: silent, deploys }, {
    hub: hub.url, name: 'n1', machineId: 'm', joinToken: 'join', intervalMs: 60_000, backoffMinMs: 50, backoffMaxMs: 100,
  });
  try {
    agent.start();
    await waitFor('the agent to be welcomed', () => agent.status().connected, 5_000, 10);
    const job: DeployRequest = { type: 'deploy', id: 'job-1', deadline: Date.now() + 60_000, action: { kind: 'container', action: 'stop', name: 'web' } };
    hub.send(job);
    await waitFor('the progress frame', () => hub.deployFrames(1).length === 1, 5_000, 10);
    assert.equal(seen, [job]);

    // Cut the link and keep the next one unwelcomed while the job ends: the result has nowhere to go yet.
    hub.hold(true);
    hub.cut();
    await waitFor('the agent to reconnect (not welcomed)', () => hub.conns() === 2 && hub.frames.some((f) => f.conn === 2 && f.msg.type === 'hello'), 5_000, 10);
    release();
    await sleep(100);
    assert.equal(hub.deployFrames(2), [], 'nothing is sent before the welcome');
    hub.welcomeNow();
    await waitFor('the kept result after the welcome', () => hub.deployFrames(2).length === 1, 5_000, 10);
    const [result] = hub.deployFrames(2);
    assert.is(result!.type, 'deployResult');
    assert.is(result!.id, 'job-1');
    assert.is((result as DeployResult).outcome, 'succeeded');
    hub.cut();
    hub.hold(false);
    await waitFor('the third link', () => agent.status().connected && hub.conns() === 3, 5_000, 10);
    await sleep(100);
    assert.equal(hub.deployFrames(3), [], 'a result is sent once it went out');
    assert.equal(hub.invalid, [], 'every frame the agent sent passes the schema');
  } finally {
    release();
    await agent.close();
    await hub.close();
  }
});

test('an agent without a deploy executor answers refused', async () => {
  const hub = await fakeHub();
  const agent = createAgent({ collectors: { facts: async () => FACTS, sample: async () => SAMPLE }, state: createStateStore(tempDir('deploy-agent')), log: silent }, {
    hub: hub.url, name: 'n1', machineId: 'm', joinToken: 'join', intervalMs: 60_000,
  });
  try {
    agent.start();
    await waitFor('the agent to be welcomed', () => agent.status().connected, 5_000, 10);
    hub.send({ type: 'deploy', id: 'job-2', deadline: Date.now() + 60_000, action: { kind: 'unit', action: 'restart', unit: 'nginx.service' } });
    const [r] = await waitFor('the refusal', () => hub.deployFrames().length ? hub.deployFrames() : undefined, 5_000, 10);
    assert.is((r as DeployResult).outcome, 'refused');
  } finally {
    await agent.close();
    await hub.close();
  }
});

test.run();
