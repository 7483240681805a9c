/**
 * Joins cannot take a node over (issue 13), shown against a real hub process
 * with real agents and raw WebSockets: an impostor with a node's name and
 * machine-id is refused while the real agent stays; a single-use token lets
 * one node in; a name with another node's DNS label is refused; a
 * replacement needs an admin's consent, works once, cuts the old agent off
 * and keeps the node's history; a removed node is gone, agent and data.
 * The hour a join token lives is shown with an injected clock in store.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type WebSocket from 'ws';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloseCode, PROTOCOL_VERSION, type AgentMessage } from '../../protocol/index.ts';
import { agentSocket, api, joinToken, startAgentProcess, startHubProcess, waitFor, type AgentProc, type HubProc } from '../helpers/processes.ts';

let hub: HubProc;
let token: string;
const agents: AgentProc[] = [];

interface TokenView { id: string; role: string; node: string | null; expiresAt: string | null; revokedAt: string | null; usesLeft: number | null; replace: string | null }
interface Outcome { welcomed: boolean; code: number; reason: string; errors: string[]; ws: WebSocket; closed: Promise<{ code: number; reason: string }> }

/** Says hello over a raw link; resolves once welcomed (link left open) or closed by the hub. */
function hello(name: string, machineId: string, auth: { kind: 'join' | 'credential'; token: string }): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = agentSocket(hub.url);
    const errors: string[] = [];
    let done = false;
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: 'test', node: { name, machineId }, auth } satisfies AgentMessage)));
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { type: string; code?: string };
      if (m.type === 'error' && m.code) errors.push(m.code);
      if (m.type === 'welcome' && !done) { done = true; resolve({ welcomed: true, code: 0, reason: '', errors, ws, closed }); }
    });
    void closed.then(({ code, reason }) => { if (!done) { done = true; resolve({ welcomed: false, code, reason, errors, ws, closed }); } });
    ws.on('error', () => undefined);
    setTimeout(() => { if (!done) reject(new Error(`no welcome and no close for ${name} within 10 s`)); }, 10_000).unref();
  });
}

const tokens = async () => (await api<{ tokens: TokenView[] }>(hub.url, hub.adminToken, '/api/v1/tokens')).body.tokens;
const node = async (name: string) => api(hub.url, hub.adminToken, `/api/v1/nodes/${name}`);
const samplesOf = async (name: string) => (await api<{ ackedSeq: number; samples: { seq: number; ts: string }[] }>(hub.url, hub.adminToken, `/api/v1/nodes/${name}/samples`)).body;
const newToken = async (body: object) => {
  const r = await api<{ token: string; id: string; expiresAt: string | null; usesLeft: number | null }>(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'agent', ...body } });
  assert.is(r.status, 201, JSON.stringify(r.body));
  return r.body;
};
const online = (name: string) => waitFor(`${name} online with samples`, async () => {
  const r = await node(name);
  return r.status === 200 && r.body.online && r.body.samples.ackedSeq > 0 ? r.body : undefined;
}, 20_000);

test.before(async () => {
  hub = await startHubProcess();
  token = await joinToken(hub);
  agents.push(startAgentProcess({ hub: hub.url, join: token, name: 'pi-1' }));
  await online('pi-1');
});

test.after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await hub?.stop();
});

test('join tokens expire after an hour unless --ttl says otherwise; 0 is never; metrics tokens exist and cannot call the API', async () => {
  const before = Date.now();
  const plain = await newToken({});
  const expires = Date.parse(plain.expiresAt!);
  assert.ok(expires >= before + 3_600_000 - 5_000 && expires <= Date.now() + 3_600_000 + 5_000, `expires in an hour (${plain.expiresAt})`);
  assert.is((await newToken({ ttl: '0' })).expiresAt, null, 'ttl 0: never, when asked for');
  const bad = await api(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'agent', ttl: '0h' } });
  assert.is(bad.body.error.code, 'MUSTER_ERR_BAD_REQUEST', 'never is said as 0, nothing else');
  const metrics = await api(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'metrics', label: 'prometheus' } });
  assert.is(metrics.status, 201);
  assert.is(metrics.body.role, 'metrics');
  assert.is(metrics.body.expiresAt, null);
  assert.is((await api(hub.url, metrics.body.token, '/api/v1/nodes')).status, 403);
  const usesOnAdmin = await api(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'admin', uses: 1 } });
  assert.is(usesOnAdmin.body.error.code, 'MUSTER_ERR_BAD_REQUEST');
});

test('an impostor with an existing node\'s name and machine-id is refused; the real agent stays connected with its credential', async () => {
  const real = (await node('pi-1')).body;
  const agent = agents[0]!;
  const credential = JSON.parse(readFileSync(join(agent.stateDir, 'credential.json'), 'utf8')).token as string;
  const seqBefore = real.samples.ackedSeq;

  const impostor = await hello('pi-1', real.machineId, { kind: 'join', token });
  assert.is(impostor.welcomed, false);
  assert.is(impostor.code, CloseCode.nameTaken);
  assert.equal(impostor.errors, ['MUSTER_ERR_NODE_NAME_TAKEN']);
  // A credential hello needs the credential: the machine-id and a join token are not it.
  const forged = await hello('pi-1', real.machineId, { kind: 'credential', token });
  assert.is(forged.code, CloseCode.unauthorized);

  await waitFor('the real agent to keep reporting', async () => (await samplesOf('pi-1')).ackedSeq >= seqBefore + 2, 10_000);
  const after = (await node('pi-1')).body;
  assert.is(after.online, true);
  assert.is(after.machineId, real.machineId);
  assert.is(agent.child.exitCode, null, 'the real agent runs on');
  assert.is(JSON.parse(readFileSync(join(agent.stateDir, 'credential.json'), 'utf8')).token, credential, 'and keeps its credential');
  const creds = (await tokens()).filter((t) => t.role === 'node' && t.node === 'pi-1');
  assert.is(creds.length, 1);
  assert.is(creds[0]!.revokedAt, null);
});

test('a --uses 1 token lets one node join and refuses the second as used up', async () => {
  const once = await newToken({ uses: 1 });
  assert.is(once.usesLeft, 1);
  const first = await hello('single-1', 'm-single-1', { kind: 'join', token: once.token });
  assert.ok(first.welcomed);
  const second = await hello('single-2', 'm-single-2', { kind: 'join', token: once.token });
  assert.is(second.welcomed, false);
  assert.is(second.code, CloseCode.unauthorized);
  assert.equal(second.errors, ['MUSTER_ERR_UNAUTHORIZED']);
  assert.match(second.reason, /used up/);
  assert.is((await tokens()).find((t) => t.id === once.id)!.usesLeft, 0);
  assert.is((await node('single-2')).status, 404);
  first.ws.close();
});

test('pi_1 after pi-1 is refused: the same DNS label, and the refusal names the node that has it', async () => {
  for (const twin of ['pi_1', 'PI-1', 'pi.1']) {
    const r = await hello(twin, `m-${twin}`, { kind: 'join', token });
    assert.is(r.code, CloseCode.nameTaken, twin);
    assert.equal(r.errors, ['MUSTER_ERR_NODE_NAME_TAKEN'], twin);
    assert.match(r.reason, /'pi-1'/, twin);
  }
  const names = (await api<{ nodes: { name: string }[] }>(hub.url, hub.adminToken, '/api/v1/nodes')).body.nodes.map((n) => n.name);
  assert.not.ok(names.some((n) => n !== 'pi-1' && n.toLowerCase().replace(/[_.]/g, '-') === 'pi-1'));
});

test('nodes replace: the next join takes the node over once, cuts the old agent off, keeps the history; the new journal follows on', async () => {
  const old = agents[0]!;
  const before = await samplesOf('pi-1');
  const oldest = before.samples[0]!;
  const r = await api(hub.url, hub.adminToken, '/api/v1/nodes/pi-1/replace', { method: 'POST', body: {} });
  assert.is(r.status, 200);
  const until = Date.parse(r.body.replaceUntil);
  assert.ok(until > Date.now() + 59 * 60_000 && until <= Date.now() + 3_600_000 + 1_000, 'open for an hour');
  assert.is((await api(hub.url, hub.adminToken, '/api/v1/nodes/nope/replace', { method: 'POST', body: {} })).body.error.code, 'MUSTER_ERR_NODE_NOT_FOUND');

  // A fresh state directory: a new credential, and a journal that starts again at 1.
  const replacement = startAgentProcess({ hub: hub.url, join: token, name: 'pi-1' });
  agents.push(replacement);
  const code = await Promise.race([old.exited, new Promise((r) => setTimeout(() => r('still running'), 15_000))]);
  assert.is(code, 1, 'the old agent was refused for good and stopped');
  assert.match(old.output(), /4403|revoked/);
  const ackedAtSwap = (await samplesOf('pi-1')).ackedSeq;
  const after = await waitFor('samples from the replacement', async () => {
    const s = await samplesOf('pi-1');
    return s.ackedSeq >= ackedAtSwap + 3 ? s : undefined;
  }, 20_000);
  assert.is(after.samples[0]!.seq, oldest.seq, 'the history stays with the node');
  const seqs = after.samples.map((s) => s.seq);
  seqs.slice(1).forEach((s, i) => assert.ok(s > seqs[i]!, 'the new journal was renumbered after the hub\'s position'));
  assert.is((await node('pi-1')).body.online, true);
  assert.match(replacement.output(), /joined the hub; credential saved/);
  const creds = (await tokens()).filter((t) => t.role === 'node' && t.node === 'pi-1');
  assert.is(creds.filter((t) => t.revokedAt === null).length, 1, 'one live credential: the new agent\'s');

  // The consent was for one join.
  const again = await hello('pi-1', 'm-another', { kind: 'join', token });
  assert.is(again.code, CloseCode.nameTaken);
  assert.is(replacement.child.exitCode, null);
});

test('a token made with --replace NAME takes only that node over, once', async () => {
  const raw = await hello('vm-2', 'm-vm-2', { kind: 'join', token });
  assert.ok(raw.welcomed);
  const bound = await newToken({ replace: 'vm-2' });
  assert.is(bound.usesLeft, 1, 'single-use unless told');
  const elsewhere = await hello('vm-3', 'm-vm-3', { kind: 'join', token: bound.token });
  assert.is(elsewhere.code, CloseCode.unauthorized);
  const taken = await hello('vm-2', 'm-vm-2-new', { kind: 'join', token: bound.token });
  assert.ok(taken.welcomed);
  const cut = await raw.closed;
  assert.ok(cut.code === CloseCode.revoked || cut.code === CloseCode.replaced, `the old link is cut (${cut.code})`);
  assert.is((await node('vm-2')).body.machineId, 'm-vm-2-new');
  assert.is((await hello('vm-2', 'm-vm-2-third', { kind: 'join', token: bound.token })).code, CloseCode.unauthorized, 'used up');
  const missing = await api(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'agent', replace: 'nope' } });
  assert.is(missing.body.error.code, 'MUSTER_ERR_NODE_NOT_FOUND');
  taken.ws.close();
});

test('nodes remove: the agent is cut off for good, and the node, its credential and its data are gone from the API', async () => {
  const gone = startAgentProcess({ hub: hub.url, join: token, name: 'gone' });
  agents.push(gone);
  await online('gone');
  const r = await api(hub.url, hub.adminToken, '/api/v1/nodes/gone', { method: 'DELETE' });
  assert.is(r.status, 200);
  assert.equal(r.body, { node: 'gone', removed: true });
  const code = await Promise.race([gone.exited, new Promise((res) => setTimeout(() => res('still running'), 15_000))]);
  assert.is(code, 1, 'the agent was refused for good');
  assert.is((await node('gone')).body.error.code, 'MUSTER_ERR_NODE_NOT_FOUND');
  assert.is((await api(hub.url, hub.adminToken, '/api/v1/nodes/gone/samples')).status, 404);
  assert.not.ok((await api<{ nodes: { name: string }[] }>(hub.url, hub.adminToken, '/api/v1/nodes')).body.nodes.some((n) => n.name === 'gone'));
  assert.not.ok((await tokens()).some((t) => t.node === 'gone'), 'its credential is deleted');
  const events = await api<{ events: { node: string | null }[] }>(hub.url, hub.adminToken, '/api/v1/events?limit=1000');
  assert.not.ok(events.body.events.some((e) => e.node === 'gone'), 'its events are gone');
  // Back with its old state (the credential) and no join token: refused.
  const back = startAgentProcess({ hub: hub.url, name: 'gone', stateDir: gone.stateDir });
  agents.push(back);
  const backCode = await Promise.race([back.exited, new Promise((res) => setTimeout(() => res('still running'), 15_000))]);
  assert.is(backCode, 1);
  assert.match(back.output(), /4401/);
  assert.is((await node('gone')).status, 404);
  assert.is((await api(hub.url, hub.adminToken, '/api/v1/nodes/gone', { method: 'DELETE' })).body.error.code, 'MUSTER_ERR_NODE_NOT_FOUND');
  assert.is((await node('pi-1')).body.online, true, 'the other nodes are untouched');
});

test.run();
