/**
 * One node cannot hurt another: a node that sends numbers no host has
 * (counters at 2^64, times at the end of the schema's range, a sequence
 * number at its top) over a real link gets every frame validated, its
 * impossible samples refused and counted, and every API route keeps
 * answering correctly for the other nodes. Numbers beyond the schema's
 * bounds (1e300, a time in the year 33,000) close the link as invalid.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type WebSocket from 'ws';
import {
  CloseCode, MAX_COUNTER, MAX_EPOCH_MS, MAX_EPOCH_S, MAX_PID, MAX_SEQ, PROTOCOL_VERSION,
  type AgentMessage, type HostFacts, type SampleData, type WorkloadsMessage,
} from '../../protocol/index.ts';
import {
  agentSocket, api, joinToken, scrape, startAgentProcess, startHubProcess, waitFor, type AgentProc, type HubProc,
} from '../helpers/processes.ts';

let hub: HubProc;
let good: AgentProc;
let token: string;

const facts = (name: string): HostFacts => ({
  hostname: name, machineId: `m-${name}`, os: { id: 'debian', name: 'Debian', version: '12', prettyName: 'Debian 12' },
  kernel: '6.1', arch: 'x86_64', platform: 'linux/amd64', cpu: { model: 'x', cores: 65_536 },
  memoryBytes: MAX_COUNTER, swapBytes: MAX_COUNTER,
  filesystems: [{ mountpoint: '/', device: '/dev/x', fstype: 'ext4', sizeBytes: MAX_COUNTER }],
  addresses: [{ iface: 'eth0', family: 4, address: '10.9.9.9', internal: false }],
  bootTime: MAX_EPOCH_S, rebootRequired: false, rebootRequiredPackages: [], agentVersion: 'evil', runtime: 'node', labels: {}, unavailable: [],
});

const hugeSample = (): SampleData => ({
  cpu: [{ cpu: 'cpu0', user: MAX_COUNTER, nice: MAX_COUNTER, system: MAX_COUNTER, idle: 0, iowait: 0, irq: MAX_COUNTER, softirq: 0, steal: 0 }],
  load: [1e7, 1e7, 1e7],
  memory: { totalBytes: MAX_COUNTER, availableBytes: 0, freeBytes: 0, buffersBytes: MAX_COUNTER, cachedBytes: MAX_COUNTER, swapTotalBytes: MAX_COUNTER, swapFreeBytes: 0 },
  filesystems: [{ mountpoint: '/', device: '/dev/x', fstype: 'ext4', sizeBytes: MAX_COUNTER, freeBytes: 0, availBytes: 0, files: MAX_COUNTER, filesFree: 0 }],
  network: [{ iface: 'eth0', rxBytes: MAX_COUNTER, txBytes: MAX_COUNTER, rxPackets: MAX_COUNTER, txPackets: MAX_COUNTER, rxErrors: MAX_COUNTER, txErrors: 0, rxDropped: 0, txDropped: 0 }],
  temperatures: [{ sensor: 'cpu', celsius: 1000 }, { sensor: 'cold', celsius: -273.15 }],
  unavailable: [],
});

const extremeWorkloads = (): WorkloadsMessage => ({
  type: 'workloads', ts: Date.now(), sync: { id: 1, part: 0, last: true },
  upsert: {
    processes: [{ pid: MAX_PID, ppid: MAX_PID, name: 'evil', cmdline: 'evil --serve', uid: 2 ** 32 - 1, user: 'x', startTime: MAX_EPOCH_S, cpuSeconds: MAX_COUNTER, rssBytes: MAX_COUNTER, owner: {} }],
    containers: [{
      id: 'e'.repeat(64), name: 'evil-web', image: 'evil:latest', imageId: 'sha256:e', command: 'x', state: 'running', health: 'healthy',
      startedAt: MAX_EPOCH_MS, finishedAt: MAX_EPOCH_MS, restartCount: 2 ** 31, restartPolicy: 'always', pid: MAX_PID,
      ports: [{ containerPort: 80, protocol: 'tcp', hostPort: 65535, hostIp: '0.0.0.0' }], labels: { 'muster.service': 'web' }, exitCode: -(2 ** 31),
    }],
    units: [{ name: 'evil.service', description: 'x', loadState: 'loaded', activeState: 'active', subState: 'running', mainPid: MAX_PID, memoryBytes: MAX_COUNTER, restarts: 2 ** 31, since: MAX_EPOCH_MS }],
    ports: [{ protocol: 'tcp', address: '0.0.0.0', port: 65535, pid: MAX_PID, process: 'evil', owner: {} }],
  },
  remove: { processes: [], containers: [], units: [], ports: [] },
  use: [{ id: 'e'.repeat(64), cpuSeconds: MAX_COUNTER, memoryBytes: MAX_COUNTER, workingSetBytes: MAX_COUNTER, memoryLimitBytes: MAX_COUNTER, rxBytes: MAX_COUNTER, txBytes: MAX_COUNTER }],
  collectors: { processes: 'ok', containers: 'ok', units: 'ok', ports: 'ok' },
});

interface RawAgent { ws: WebSocket; frames: any[]; closed: Promise<{ code: number; reason: string }> }

/** Joins as `name` over a raw WebSocket and resolves once welcomed. */
async function rawAgent(name: string): Promise<RawAgent> {
  const ws = agentSocket(hub.url);
  const frames: any[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  ws.on('error', () => undefined);
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: 'evil', node: { name, machineId: `m-${name}` }, auth: { kind: 'join', token } } satisfies AgentMessage));
  await waitFor(`${name} welcomed`, () => frames.some((f) => f.type === 'welcome'), 5_000, 20);
  return { ws, frames, closed };
}

test.before(async () => {
  hub = await startHubProcess();
  token = await joinToken(hub);
  good = startAgentProcess({ hub: hub.url, join: token, name: 'good' });
  await waitFor('the good node to report', async () => {
    const r = await api(hub.url, hub.adminToken, '/api/v1/nodes/good');
    return r.status === 200 && r.body.use?.cpuPercent !== null && r.body.use !== null;
  }, 20_000);
});

test.after(async () => {
  await good?.stop();
  await hub?.stop();
});

test('a node at the edge of every bound leaves every route answering correctly for the others', async () => {
  const evil = await rawAgent('evil');
  const now = Date.now();
  evil.ws.send(JSON.stringify({ type: 'facts', facts: facts('evil') } satisfies AgentMessage));
  evil.ws.send(JSON.stringify(extremeWorkloads()));
  evil.ws.send(JSON.stringify({ type: 'samples', dropped: MAX_SEQ, samples: [
    { seq: 1, ts: now, data: hugeSample() },
    { seq: 2, ts: now + 1000, data: hugeSample() },
    // Stamped in the year 2199: a clock far off. Acked (the agent may forget it) but not stored.
    { seq: 3, ts: MAX_EPOCH_MS, data: hugeSample() },
  ] } satisfies AgentMessage));
  await waitFor('the samples acked', () => evil.frames.some((f) => f.type === 'ack' && f.seq === 3), 5_000, 20);

  const evilNode = (await api(hub.url, hub.adminToken, '/api/v1/nodes/evil')).body;
  assert.is(evilNode.samples.ackedSeq, 3);
  assert.is(evilNode.samples.rejected, 1, 'the sample from the year 2199 is counted as refused');
  const stored = (await api(hub.url, hub.adminToken, '/api/v1/nodes/evil/samples')).body.samples as { seq: number }[];
  assert.equal(stored.map((s) => s.seq), [1, 2], 'only samples the hub can place in time are stored');

  // Every read route answers 200 with JSON, for everyone.
  const routes = [
    '/api/v1/nodes', '/api/v1/nodes/good', '/api/v1/nodes/evil', '/api/v1/nodes/evil/samples', '/api/v1/nodes/evil/samples?resolution=1h',
    '/api/v1/services', '/api/v1/services/web', '/api/v1/nodes/evil/processes', '/api/v1/nodes/evil/containers', '/api/v1/nodes/evil/units',
    '/api/v1/nodes/evil/ports', '/api/v1/events', '/api/v1/alerts', '/api/v1/sd/prometheus', '/api/v1/deploys', '/api/v1/tokens',
  ];
  for (const path of routes) {
    const r = await api(hub.url, hub.adminToken, path);
    assert.is(r.status, 200, `${path} answers 200, not ${r.status}: ${JSON.stringify(r.body).slice(0, 200)}`);
  }
  const placement = await api(hub.url, hub.adminToken, '/api/v1/placements', { method: 'POST', body: { service: 'new', cpu: '0.1', memory: '16M' } });
  assert.is(placement.status, 200, `placements answer: ${JSON.stringify(placement.body).slice(0, 300)}`);

  const text = await scrape(hub);
  assert.match(text, /node_load1\{instance="good"\} \d/, 'the good node is on /metrics');
  assert.not.match(text, /\b(NaN|Infinity)\b/, 'no NaN or Inf from the extreme node');

  // The good node's own figures are untouched.
  const list = (await api<{ nodes: { name: string; online: boolean; use: { cpuPercent: number | null } | null }[] }>(hub.url, hub.adminToken, '/api/v1/nodes')).body.nodes;
  const g = list.find((n) => n.name === 'good')!;
  assert.ok(g.online && g.use && g.use.cpuPercent !== null && g.use.cpuPercent >= 0 && g.use.cpuPercent <= 100, `good's CPU is a percentage: ${g.use?.cpuPercent}`);
  evil.ws.close();
});

test('numbers beyond the bounds (1e300, a time in the year 33,000) close the link as invalid and store nothing', async () => {
  const cases: [string, (ws: WebSocket) => void][] = [
    ['seq 1e300', (ws) => ws.send(`{"type":"samples","dropped":0,"samples":[{"seq":1e300,"ts":${Date.now()},"data":${JSON.stringify(hugeSample())}}]}`)],
    ['ts in the year 33,000', (ws) => ws.send(JSON.stringify({ type: 'samples', dropped: 0, samples: [{ seq: 1, ts: Date.UTC(33000, 0, 1), data: hugeSample() }] }))],
    ['container startedAt 1e300', (ws) => { const w = extremeWorkloads(); w.upsert.containers[0]!.startedAt = 1e300; ws.send(JSON.stringify(w)); }],
    ['a counter of 1e400 (Infinity in JSON)', (ws) => ws.send(`{"type":"samples","dropped":0,"samples":[{"seq":1,"ts":${Date.now()},"data":${JSON.stringify(hugeSample()).replace(/"rxBytes":[^,]+/, '"rxBytes":1e400')}}]}`)],
  ];
  for (const [what, send] of cases) {
    const bad = await rawAgent(`bad-${cases.findIndex((c) => c[0] === what)}`);
    send(bad.ws);
    const closed = await Promise.race([bad.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5_000))]);
    assert.ok(closed, `${what}: the hub closes the link`);
    assert.is(closed!.code, CloseCode.badFrame, `${what}: closed as a bad frame`);
    assert.ok(bad.frames.some((f) => f.type === 'error' && f.code === 'MUSTER_ERR_FRAME_INVALID'), `${what}: the error names the code`);
  }
  const r = await api(hub.url, hub.adminToken, '/api/v1/services');
  assert.is(r.status, 200);
});

test.run();
