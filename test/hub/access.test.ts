/**
 * Who may do what, in pieces: the route table guards every route (a route
 * without a line stops the app), roles are permission lists, a deployer's
 * scope matches globs and node labels, and the audit log keeps no token and
 * forgets after its retention.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Fastify from 'fastify';
import {
  ROLE_PERMISSIONS, ROUTES, checkDeployScope, createAccessControl, globMatch, parseScope, principalOf, scopeAllowsNode, type Principal,
} from '../../hub/access.ts';
import { createAuditLog, scrubTokens } from '../../hub/audit.ts';
import { createMaintenance } from '../../hub/maintenance.ts';
import { createStore, openDatabase } from '../../hub/store.ts';
import { createTokenService } from '../../hub/tokens.ts';
import { MusterError } from '../../hub/errors.ts';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const codeOf = (fn: () => unknown) => {
  try { fn(); } catch (err) { return (err as MusterError).code; }
  return undefined;
};

test('a route registered without a line in ROUTES stops the app', async () => {
  const db = openDatabase(':memory:');
  const store = createStore({ db });
  const app = Fastify();
  createAccessControl({ tokens: createTokenService({ store, now: Date.now }), audit: createAuditLog({ db, log: quiet }), now: Date.now }).install(app);
  app.get('/api/v1/nodes', async () => ({}));
  let code: string | undefined;
  try {
    app.get('/api/v1/something-new', async () => ({}));
  } catch (err) {
    code = (err as MusterError).code;
  }
  assert.is(code, 'MUSTER_ERR_ROUTE_WITHOUT_ACCESS');
  await app.close();
  db.close();
});

test('every route needs a permission some role has, and every write has an audit name', () => {
  const held = new Set(Object.values(ROLE_PERMISSIONS).flat());
  for (const [route, rule] of Object.entries(ROUTES)) {
    assert.ok(/^(GET|POST|PUT|PATCH|DELETE) \//.test(route), route);
    assert.ok(rule.permission === 'public' || rule.permission === 'link' || held.has(rule.permission), `${route}: no role has ${rule.permission}`);
    // Placements rank nodes and change nothing: the one POST that is not a write.
    if (!route.startsWith('GET ') && route !== 'POST /api/v1/placements') assert.ok(rule.audit, `${route} is a write without an audit name`);
    if (route.startsWith('GET ')) assert.not.ok(rule.audit, `${route} is a read and names an audit action`);
  }
  assert.equal([...ROLE_PERMISSIONS.agent, ...ROLE_PERMISSIONS.node], [], 'agent and node tokens speak only on the agent link');
});

test('globs match whole names; node selectors need every key, with any of its values', () => {
  assert.ok(globMatch('web-*', 'web-1'));
  assert.ok(globMatch('web-*', 'web-'));
  assert.not.ok(globMatch('web-*', 'db-web-1'));
  assert.not.ok(globMatch('web-*', 'webx1'));
  assert.ok(globMatch('api-?', 'api-2'));
  assert.not.ok(globMatch('api-?', 'api-22'));
  assert.ok(globMatch('*', 'anything.at-all'));
  assert.not.ok(globMatch('a.b', 'axb'), 'a dot is a dot');

  const scope = parseScope('web-*, api', ['tier=web', 'tier=edge', 'site=lab']);
  assert.equal(scope, { services: ['web-*', 'api'], nodes: { tier: ['web', 'edge'], site: ['lab'] } });
  assert.ok(scopeAllowsNode(scope, { tier: 'edge', site: 'lab', extra: 'x' }));
  assert.not.ok(scopeAllowsNode(scope, { tier: 'edge' }), 'site is missing');
  assert.not.ok(scopeAllowsNode(scope, { tier: 'db', site: 'lab' }));
  assert.ok(scopeAllowsNode(parseScope(['*'], undefined), {}), 'no node selector: every node');

  assert.is(codeOf(() => parseScope(undefined, undefined)), 'MUSTER_ERR_BAD_REQUEST', 'a deployer needs services');
  assert.is(codeOf(() => parseScope(['web/*'], undefined)), 'MUSTER_ERR_BAD_REQUEST');
  assert.is(codeOf(() => parseScope(['web-*'], ['tier'])), 'MUSTER_ERR_BAD_REQUEST');
});

test('a deployer may deploy its services to its nodes; a viewer nothing; an admin anything', () => {
  const alice: Principal = { tokenId: 'a', name: 'alice', role: 'deployer', scope: parseScope(['web-*'], ['tier=web']), expiresAt: null };
  const web = { name: 'n1', labels: { tier: 'web' } };
  const db = { name: 'n2', labels: { tier: 'db' } };
  assert.is(codeOf(() => checkDeployScope(alice, { service: 'web-1', node: web })), undefined);
  assert.is(codeOf(() => checkDeployScope(alice, { service: 'web-new' })), undefined, 'a new service whose name matches');
  assert.is(codeOf(() => checkDeployScope(alice, { service: 'db-1', node: web })), 'MUSTER_ERR_FORBIDDEN');
  assert.is(codeOf(() => checkDeployScope(alice, { service: 'web-1', node: db })), 'MUSTER_ERR_FORBIDDEN');
  let details: Record<string, unknown> | undefined;
  try { checkDeployScope(alice, { service: 'db-1', node: web }); } catch (err) { details = (err as MusterError).details; }
  assert.equal([details?.['permission'], details?.['service'], details?.['node']], ['deploy', 'db-1', 'n1']);
  const bob: Principal = { tokenId: 'b', name: 'bob', role: 'viewer', scope: null, expiresAt: null };
  assert.is(codeOf(() => checkDeployScope(bob, { service: 'web-1', node: web })), 'MUSTER_ERR_FORBIDDEN');
  const root: Principal = { tokenId: 'r', name: 'root', role: 'admin', scope: null, expiresAt: null };
  assert.is(codeOf(() => checkDeployScope(root, { service: 'db-1', node: db })), undefined);
});

test('a token is known by its name; an unnamed one by its id', () => {
  const db = openDatabase(':memory:');
  const tokens = createTokenService({ store: createStore({ db }), now: () => 1 });
  assert.is(principalOf(tokens.create('viewer', { label: 'bob' }).record).name, 'bob');
  const anon = tokens.create('admin').record;
  assert.is(principalOf(anon).name, `token ${anon.id}`);
  db.close();
});

test('the audit log cuts tokens to their id, filters by who and time, and forgets after 90 days', () => {
  const db = openDatabase(':memory:');
  const audit = createAuditLog({ db, log: quiet });
  const token = `muster_abcdefghijkl_${'x'.repeat(43)}`;
  assert.is(scrubTokens(`made ${token}.`), 'made muster_abcdefghijkl_<redacted>.');
  const DAY = 86_400_000;
  const t0 = 1_700_000_000_000;
  audit.record({ ts: t0, who: 'alice', action: 'deploy.run', outcome: 'ok', target: 'web-1 on n1', detail: { note: token } });
  audit.record({ ts: t0 + DAY, who: 'bob', action: 'deploy.run', outcome: 'refused', code: 'MUSTER_ERR_FORBIDDEN' });
  audit.record({ ts: t0 + 2 * DAY, who: 'alice', action: 'silence.create', outcome: 'refused' });
  assert.equal(audit.list({ limit: 10 }).map((e) => [e.who, e.action]), [['alice', 'silence.create'], ['bob', 'deploy.run'], ['alice', 'deploy.run']], 'newest first');
  assert.equal(audit.list({ limit: 10, who: 'alice', since: t0 + 1 }).map((e) => e.action), ['silence.create']);
  assert.not.match(JSON.stringify(audit.list({ limit: 10 })), 'x'.repeat(43));

  let now = t0 + 90 * DAY + DAY / 2;
  const maintenance = createMaintenance({ store: { rollup: () => 0 }, events: { pruneEvents: () => 0 }, audit, now: () => now, log: quiet });
  maintenance.runOnce();
  assert.equal(audit.list({ limit: 10 }).map((e) => e.who), ['alice', 'bob'], 'the entry past 90 days is gone');
  now += 10 * DAY;
  maintenance.runOnce();
  assert.equal(audit.list({ limit: 10 }), []);
  db.close();
});

test.run();
