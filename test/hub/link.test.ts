/**
 * The agent <-> hub link end to end: real hub process, real bundled agents,
 * real WebSockets on loopback.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type WebSocket from 'ws';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  agentSocket, api, hubFetch, joinToken, startAgentProcess, startHubProcess, waitFor, type AgentProc, type HubProc,
} from '../helpers/processes.ts';
import { CloseCode, MAX_FRAME_BYTES, PROTOCOL_VERSION } from '../../protocol/index.ts';

let hub: HubProc;
let token: string;
const agents: AgentProc[] = [];

interface NodeView { name: string; online: boolean; arch: string; use: { ts: number; cpuPercent: number | null } | null }
interface SamplesView { ackedSeq: number; samples: { seq: number; ts: string }[] }

const nodes = async () => (await api<{ nodes: NodeView[] }>(hub.url, hub.adminToken, '/api/v1/nodes')).body.nodes;
const samplesOf = async (name: string) => (await api<SamplesView>(hub.url, hub.adminToken, `/api/v1/nodes/${name}/samples`)).body;

/** The codes of the error frames the hub sent before closing a raw link. */
const codes = (r: { frames: string[] }) => r.frames.map((f) => JSON.parse(f) as { type: string; code?: string }).filter((m) => m.type === 'error').map((m) => m.code);

/** Opens a raw WebSocket to the agent endpoint and resolves with how the hub closed it. */
function rawLink(send: (ws: WebSocket) => void): Promise<{ code: number; reason: string; frames: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = agentSocket(hub.url);
    const frames: string[] = [];
    ws.on('open', () => send(ws));
    ws.on('message', (d) => frames.push(d.toString()));
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), frames }));
    ws.on('error', (err) => { if (!/closed|Max payload/i.test(err.message)) reject(err); });
    setTimeout(() => reject(new Error('hub did not close the link within 12 s')), 12_000).unref();
  });
}

test.before(async () => {
  hub = await startHubProcess();
  token = await joinToken(hub);
});

test.after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await hub?.stop();
});

test('two agents with their own names and state appear as two online nodes with facts and fresh samples', async () => {
  agents.push(startAgentProcess({ hub: hub.url, join: token, name: 'pi-1' }));
  agents.push(startAgentProcess({ hub: hub.url, join: token, name: 'vm-2' }));
  const list = await waitFor('two online nodes with samples', async () => {
    const n = await nodes();
    return n.length === 2 && n.every((x) => x.online && x.use && x.use.cpuPercent !== null) ? n : undefined;
  }, 20_000);
  assert.equal(list.map((n) => n.name).sort(), ['pi-1', 'vm-2']);
  const detail = (await api(hub.url, hub.adminToken, '/api/v1/nodes/pi-1')).body;
  assert.ok(detail.facts.machineId.length > 0, 'machine-id reported');
  assert.ok(detail.facts.cpu.cores >= 1);
  assert.ok(detail.facts.memoryBytes > 0);
  assert.ok(detail.facts.filesystems.length > 0, 'filesystems reported');
  assert.ok(Date.now() - Date.parse(detail.use.ts) < 10_000 || Date.now() - detail.use.ts < 10_000, 'sample is fresh');
  // Each agent keeps its own credential, mode 0600, in its own state directory.
  for (const a of agents) {
    const file = join(a.stateDir, 'credential.json');
    assert.is(statSync(file).mode & 0o777, 0o600);
    assert.is(JSON.parse(readFileSync(file, 'utf8')).node, a.name);
  }
});

test('after the hub is SIGKILLed and restarted, both nodes return and the samples taken meanwhile arrive without a gap', async () => {
  const before = await samplesOf('pi-1');
  assert.ok(before.samples.length > 0);
  await hub.stop('SIGKILL');
  const downAt = Date.now();
  await new Promise((r) => setTimeout(r, 4_000));
  const upAt = Date.now();
  hub = await startHubProcess({ dataDir: hub.dataDir, port: hub.port });
  await waitFor('both nodes back online', async () => {
    const n = await nodes();
    return n.length === 2 && n.every((x) => x.online);
  }, 30_000);
  for (const name of ['pi-1', 'vm-2']) {
    const s = await waitFor(`samples of ${name} newer than the restart`, async () => {
      const v = await samplesOf(name);
      return v.samples.some((x) => Date.parse(x.ts) > upAt) ? v : undefined;
    }, 15_000);
    // Samples share their sequence with the journal's workloads records: numbers rise, times leave no hole.
    const seqs = s.samples.map((x) => x.seq);
    seqs.slice(1).forEach((seq, i) => assert.ok(seq > seqs[i]!, `${name}: sequence numbers rise (${seqs[i]} then ${seq})`));
    const times = s.samples.map((x) => Date.parse(x.ts));
    times.slice(1).forEach((t, i) => assert.ok(t - times[i]! < 2_500, `${name}: no sample missing between ${s.samples[i]!.ts} and ${s.samples[i + 1]!.ts}`));
    const whileDown = s.samples.filter((x) => Date.parse(x.ts) > downAt && Date.parse(x.ts) < upAt);
    assert.ok(whileDown.length >= 2, `${name}: samples taken while the hub was down arrived (${whileDown.length})`);
  }
});

test('malformed, oversized and unauthenticated frames are refused while a good agent keeps reporting', async () => {
  const seqBefore = (await samplesOf('pi-1')).ackedSeq;

  const notJson = await rawLink((ws) => ws.send('{this is not json'));
  assert.is(notJson.code, CloseCode.badFrame);
  assert.equal(codes(notJson), ['MUSTER_ERR_FRAME_NOT_JSON']);

  const badSchema = await rawLink((ws) => ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, node: { name: '../etc', machineId: 'x' } })));
  assert.is(badSchema.code, CloseCode.badFrame);
  assert.equal(codes(badSchema), ['MUSTER_ERR_FRAME_INVALID']);

  const noHello = await rawLink((ws) => ws.send(JSON.stringify({ type: 'heartbeat', ts: 1 })));
  assert.is(noHello.code, CloseCode.unauthorized);

  const badToken = await rawLink((ws) => ws.send(JSON.stringify({
    type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: 'x', node: { name: 'intruder', machineId: 'm' },
    auth: { kind: 'join', token: 'muster_000000000000_' + 'A'.repeat(43) },
  })));
  assert.is(badToken.code, CloseCode.unauthorized);
  assert.equal(codes(badToken), ['MUSTER_ERR_UNAUTHORIZED']);

  const adminAsJoin = await rawLink((ws) => ws.send(JSON.stringify({
    type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: 'x', node: { name: 'intruder', machineId: 'm' },
    auth: { kind: 'credential', token: hub.adminToken },
  })));
  assert.is(adminAsJoin.code, CloseCode.unauthorized, 'an admin token is not a node credential');

  const oldVersion = await rawLink((ws) => ws.send(JSON.stringify({
    type: 'hello', protocol: 99, agentVersion: 'x', node: { name: 'future', machineId: 'm' }, auth: { kind: 'join', token },
  })));
  assert.is(oldVersion.code, CloseCode.unsupportedVersion);
  assert.equal(codes(oldVersion), ['MUSTER_ERR_PROTOCOL_VERSION']);

  const huge = await rawLink((ws) => ws.send('x'.repeat(MAX_FRAME_BYTES + 10)));
  assert.is(huge.code, CloseCode.tooLarge);

  const binary = await rawLink((ws) => ws.send(Buffer.from([1, 2, 3])));
  assert.is(binary.code, CloseCode.badFrame);

  const nameTaken = await rawLink((ws) => ws.send(JSON.stringify({
    type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: 'x', node: { name: 'pi-1', machineId: 'another-machine' }, auth: { kind: 'join', token },
  })));
  assert.is(nameTaken.code, CloseCode.nameTaken);

  await waitFor('the good agent to keep reporting', async () => (await samplesOf('pi-1')).ackedSeq >= seqBefore + 2, 10_000);
  const n = await nodes();
  assert.equal(n.map((x) => x.name).sort(), ['pi-1', 'vm-2'], 'no node was created by the refused links');
  assert.ok(n.every((x) => x.online));
});

test('the API answers a bad token with 401 JSON and an agent token with 403, never a stack trace', async () => {
  const none = await hubFetch(hub.url + '/api/v1/nodes');
  assert.is(none.status, 401);
  assert.is(((await none.json()) as { error: { code: string } }).error.code, 'MUSTER_ERR_UNAUTHORIZED');
  const bad = await api(hub.url, 'muster_nope', '/api/v1/nodes');
  assert.is(bad.status, 401);
  assert.is(bad.body.error.code, 'MUSTER_ERR_UNAUTHORIZED');
  const agentToken = await api(hub.url, token, '/api/v1/nodes');
  assert.is(agentToken.status, 403);
  assert.is(agentToken.body.error.code, 'MUSTER_ERR_FORBIDDEN');
  const cred = JSON.parse(readFileSync(join(agents[0]!.stateDir, 'credential.json'), 'utf8')).token as string;
  assert.is((await api(hub.url, cred, '/api/v1/nodes')).status, 403, 'a node credential cannot call the API');
  const missing = await api(hub.url, hub.adminToken, '/api/v1/nodes/nope');
  assert.is(missing.status, 404);
  assert.is(missing.body.error.code, 'MUSTER_ERR_NODE_NOT_FOUND');
  const badBody = await api(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'root', ttl: 'forever' } });
  assert.is(badBody.status, 400);
  assert.is(badBody.body.error.code, 'MUSTER_ERR_BAD_REQUEST');
});

test('a revoked node credential is disconnected at once and the node goes offline', async () => {
  const list = (await api<{ tokens: { id: string; role: string; node: string | null; revokedAt: string | null }[] }>(hub.url, hub.adminToken, '/api/v1/tokens')).body.tokens;
  const cred = list.find((t) => t.role === 'node' && t.node === 'vm-2' && !t.revokedAt);
  assert.ok(cred, 'vm-2 has a live credential');
  const t0 = Date.now();
  const r = await api(hub.url, hub.adminToken, `/api/v1/tokens/${cred!.id}`, { method: 'DELETE' });
  assert.is(r.status, 200);
  await waitFor('vm-2 offline', async () => (await nodes()).find((n) => n.name === 'vm-2')?.online === false, 15_000, 50);
  assert.ok(Date.now() - t0 < 2_000, `offline ${Date.now() - t0} ms after the revocation: at once, not after the heartbeat timeout`);
  const vm2 = agents[1]!;
  const code = await Promise.race([vm2.exited, new Promise((r) => setTimeout(() => r('still running'), 5_000))]);
  assert.is(code, 1, 'the agent stops with an error instead of hammering the hub');
  assert.match(vm2.output(), /revoked/);
  assert.ok((await nodes()).find((n) => n.name === 'pi-1')?.online, 'the other node is untouched');
});

test.run();
