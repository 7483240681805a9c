/**
 * Who may do what, over the real server: every route of hub/access.ts's
 * table, called as every kind of caller (no token, a join token, metrics,
 * viewer, deployer, admin), answers as the table says. The hub starts only
 * when every route it registers has a line in the table, and a line with no
 * route behind it fails here. A viewer is refused every write, and the audit
 * log names them for each; it never holds a token.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { api, hubFetch, joinToken, startHubProcess, type HubProc } from '../helpers/processes.ts';
import { ROLE_PERMISSIONS, ROUTES, type Permission } from '../../hub/access.ts';

let hub: HubProc;
/** Every caller's token by role ('none': no Authorization header). */
const callers: Record<string, string | undefined> = { none: undefined };
const secrets: string[] = [];

/**
 * One request per route that does no harm when it is allowed: unknown names
 * and ids, bodies that fail validation. A line added to ROUTES needs one here.
 */
const SAMPLES: Record<string, { path: string; body?: unknown }> = {
  'GET /agent/v1': { path: '/agent/v1' },
  'GET /healthz': { path: '/healthz' },
  'GET /cacerts': { path: '/cacerts' },
  'GET /install.sh': { path: '/install.sh' },
  'GET /dl/muster-agent.js': { path: '/dl/muster-agent.js' },
  'GET /dl/muster-agent.js.sha256': { path: '/dl/muster-agent.js.sha256' },
  'GET /metrics': { path: '/metrics' },
  'GET /metrics/hub': { path: '/metrics/hub' },
  'GET /metrics/fleet': { path: '/metrics/fleet' },
  'GET /metrics/nodes/:name': { path: '/metrics/nodes/nope' },
  'GET /api/v1/sd/prometheus': { path: '/api/v1/sd/prometheus' },
  'GET /api/v1/sd/nodes': { path: '/api/v1/sd/nodes' },
  'GET /api/v1/whoami': { path: '/api/v1/whoami' },
  'GET /api/v1/nodes': { path: '/api/v1/nodes' },
  'GET /api/v1/nodes/:name': { path: '/api/v1/nodes/nope' },
  'GET /api/v1/nodes/:name/samples': { path: '/api/v1/nodes/nope/samples' },
  'GET /api/v1/nodes/:name/processes': { path: '/api/v1/nodes/nope/processes' },
  'GET /api/v1/nodes/:name/containers': { path: '/api/v1/nodes/nope/containers' },
  'GET /api/v1/nodes/:name/units': { path: '/api/v1/nodes/nope/units' },
  'GET /api/v1/nodes/:name/ports': { path: '/api/v1/nodes/nope/ports' },
  'GET /api/v1/services': { path: '/api/v1/services' },
  'GET /api/v1/services/:name': { path: '/api/v1/services/nope' },
  'GET /api/v1/events': { path: '/api/v1/events' },
  'GET /api/v1/deploys': { path: '/api/v1/deploys' },
  'GET /api/v1/deploys/:id': { path: '/api/v1/deploys/nope' },
  'GET /api/v1/alerts': { path: '/api/v1/alerts' },
  'GET /api/v1/silences': { path: '/api/v1/silences' },
  'GET /api/v1/agents': { path: '/api/v1/agents' },
  'GET /api/v1/audit': { path: '/api/v1/audit?limit=5' },
  'GET /api/v1/logs': { path: '/api/v1/logs?limit=1' },
  'GET /api/v1/logs/stream': { path: '/api/v1/logs/stream?limit=1' },
  'POST /api/v1/placements': { path: '/api/v1/placements', body: {} },
  'POST /api/v1/deploys': { path: '/api/v1/deploys', body: {} },
  'GET /api/v1/tokens': { path: '/api/v1/tokens' },
  'POST /api/v1/tokens': { path: '/api/v1/tokens', body: { role: 'nobody' } },
  'DELETE /api/v1/tokens/:id': { path: '/api/v1/tokens/nosuchtoken0' },
  'POST /api/v1/nodes/:name/replace': { path: '/api/v1/nodes/nope/replace', body: {} },
  'DELETE /api/v1/nodes/:name': { path: '/api/v1/nodes/nope' },
  'POST /api/v1/silences': { path: '/api/v1/silences', body: {} },
  'DELETE /api/v1/silences/:id': { path: '/api/v1/silences/nope' },
  'POST /api/v1/agents/upgrade': { path: '/api/v1/agents/upgrade', body: {} },
};

const ROLES = ['none', 'agent', 'metrics', 'viewer', 'deployer', 'admin'] as const;

/** What the table says a caller gets: through (any answer but 401/403), 401 or 403. */
function expected(role: (typeof ROLES)[number], permission: Permission): 'through' | 401 | 403 {
  if (permission === 'public' || permission === 'link') return 'through';
  if (role === 'none') return 401;
  return ROLE_PERMISSIONS[role].includes(permission) ? 'through' : 403;
}

async function call(route: string, token: string | undefined) {
  const sample = SAMPLES[route]!;
  const method = route.split(' ')[0]!;
  const res = await hubFetch(hub.url + sample.path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(sample.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(sample.body !== undefined ? { body: JSON.stringify(sample.body) } : {}),
  });
  // An answer let through may be a stream that never ends (logs/stream): only errors are read.
  if (res.status < 400) {
    await res.body?.cancel();
    return { status: res.status, code: undefined, permission: undefined };
  }
  let body: { error?: { code?: string; permission?: string } } = {};
  try { body = JSON.parse(await res.text()); } catch { /* not JSON: the status says enough */ }
  return { status: res.status, code: body.error?.code, permission: body.error?.permission };
}

test.before(async () => {
  hub = await startHubProcess({ dns: 'off' });
  const make = async (body: Record<string, unknown>) => {
    const r = await api<{ token: string }>(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body });
    assert.is(r.status, 201, JSON.stringify(r.body));
    secrets.push(r.body.token);
    return r.body.token;
  };
  callers.agent = await joinToken(hub);
  callers.metrics = await make({ role: 'metrics', name: 'prometheus' });
  callers.viewer = await make({ role: 'viewer', name: 'bob' });
  callers.deployer = await make({ role: 'deployer', name: 'alice', services: ['web-*'], nodes: ['tier=web'] });
  callers.admin = hub.adminToken;
  secrets.push(callers.agent, hub.adminToken);
});

test.after(async () => { await hub?.stop(); });

test('every route of the table, as every caller, answers as the table says', async () => {
  const missing = Object.keys(ROUTES).filter((r) => !SAMPLES[r]);
  assert.equal(missing, [], 'every line of ROUTES needs a sample request in this test');
  const wrong: string[] = [];
  for (const [route, rule] of Object.entries(ROUTES)) {
    for (const role of ROLES) {
      const want = expected(role, rule.permission);
      const got = await call(route, callers[role]);
      const ok = want === 'through'
        ? got.status !== 401 && got.status !== 403 && got.code !== 'MUSTER_ERR_NOT_FOUND'
        : got.status === want && got.code === (want === 401 ? 'MUSTER_ERR_UNAUTHORIZED' : 'MUSTER_ERR_FORBIDDEN') && (want === 401 || got.permission === rule.permission);
      if (!ok) wrong.push(`${route} as ${role}: wanted ${want}, got ${got.status} ${got.code ?? ''} ${got.permission ?? ''}`);
    }
  }
  assert.equal(wrong, [], wrong.join('\n'));
});

test('whoami tells each person their name, role and scope', async () => {
  const alice = await api(hub.url, callers.deployer!, '/api/v1/whoami');
  assert.is(alice.status, 200);
  assert.equal([alice.body.name, alice.body.role, alice.body.scope], ['alice', 'deployer', { services: ['web-*'], nodes: ['tier=web'] }]);
  assert.ok(alice.body.permissions.includes('deploy'));
  const bob = await api(hub.url, callers.viewer!, '/api/v1/whoami');
  assert.equal([bob.body.name, bob.body.role, bob.body.scope], ['bob', 'viewer', null]);
  assert.not.ok(bob.body.permissions.includes('deploy'));
});

test('a viewer is refused every write, and the audit log names them for each', async () => {
  const writes = Object.entries(ROUTES).filter(([r]) => !r.startsWith('GET '));
  assert.ok(writes.length >= 9);
  const since = new Date().toISOString();
  for (const [route, rule] of writes) {
    const got = await call(route, callers.viewer);
    assert.is(got.status, 403, route);
    assert.is(got.code, 'MUSTER_ERR_FORBIDDEN', route);
    assert.is(got.permission, rule.permission, `${route} names the permission bob lacks`);
  }
  const log = await api(hub.url, hub.adminToken, `/api/v1/audit?who=bob&since=${encodeURIComponent(since)}&limit=1000`);
  assert.is(log.status, 200);
  for (const [route] of writes) {
    const [method, pattern] = route.split(' ');
    const path = SAMPLES[route]!.path.split('?')[0];
    const entry = log.body.entries.find((e: { method: string; path: string }) => e.method === method && e.path === path);
    assert.ok(entry, `the audit log has bob's refused ${method} ${pattern}`);
    assert.equal([entry.who, entry.role, entry.outcome, entry.status, entry.code, entry.address], ['bob', 'viewer', 'refused', 403, 'MUSTER_ERR_FORBIDDEN', '127.0.0.1']);
    assert.is(entry.detail.error.permission, ROUTES[route]!.permission);
  }
  // Refused reads are there too; allowed reads are not writes and are not.
  const reads = await api(hub.url, hub.adminToken, '/api/v1/audit?who=prometheus&limit=1000');
  assert.ok(reads.body.entries.some((e: { action: string; outcome: string }) => e.action === 'GET /api/v1/nodes' && e.outcome === 'refused'));
  assert.not.ok(reads.body.entries.some((e: { outcome: string }) => e.outcome === 'ok'));
});

test('a silence names the person who made it, and making and ending it are audited under that name', async () => {
  const root = await api(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'admin', name: 'dana' } });
  secrets.push(root.body.token);
  const made = await api(hub.url, root.body.token, '/api/v1/silences', { method: 'POST', body: { node: 'pi-1', for: '2h', comment: 'moving it to the rack' } });
  assert.is(made.status, 201);
  assert.is(made.body.createdBy, 'dana');
  const listed = await api(hub.url, callers.viewer!, '/api/v1/silences');
  assert.is(listed.body.silences.find((x: { id: string }) => x.id === made.body.id)?.createdBy, 'dana', 'a viewer sees who made it');
  assert.is((await api(hub.url, root.body.token, `/api/v1/silences/${made.body.id}`, { method: 'DELETE' })).status, 200);
  const log = await api(hub.url, callers.viewer!, '/api/v1/audit?who=dana');
  assert.equal(log.body.entries.map((e: { action: string; outcome: string }) => `${e.action} ${e.outcome}`), ['silence.expire ok', 'silence.create ok']);
});

test('writes are audited with their outcome; no token secret reaches the audit log or its file', async () => {
  const made = await api(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'viewer', name: 'carol', ttl: '1h' } });
  assert.is(made.status, 201);
  secrets.push(made.body.token);
  assert.is((await api(hub.url, hub.adminToken, `/api/v1/tokens/${made.body.id}`, { method: 'DELETE' })).status, 200);
  const noName = await api(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'deployer', services: ['web-*'] } });
  assert.is(noName.status, 400, 'a deployer token needs the name of its person');

  const log = await api(hub.url, hub.adminToken, '/api/v1/audit?limit=1000');
  const mine = log.body.entries.filter((e: { action: string }) => e.action.startsWith('token.'));
  const create = mine.find((e: { action: string; detail: { id?: string } }) => e.action === 'token.create' && e.detail.id === made.body.id);
  assert.ok(create, 'token creation is audited');
  assert.equal([create.outcome, create.detail.name, create.detail.role], ['ok', 'carol', 'viewer']);
  assert.ok(mine.some((e: { action: string; target: string }) => e.action === 'token.revoke' && e.target.includes(made.body.id)), 'revocation is audited');
  assert.ok(mine.some((e: { action: string; outcome: string; code: string }) => e.action === 'token.create' && e.outcome === 'failed' && e.code === 'MUSTER_ERR_BAD_REQUEST'), 'a failed write is audited');

  const text = JSON.stringify(log.body);
  for (const s of secrets) {
    const secret = s.split('_').slice(2).join('_');
    assert.not.ok(text.includes(secret), 'the audit API shows no token secret');
    for (const f of ['muster.db', 'muster.db-wal']) {
      const path = join(hub.dataDir, f);
      if (existsSync(path)) assert.not.ok(readFileSync(path).includes(secret), `${f} holds no token secret`);
    }
  }
});

test.run();
