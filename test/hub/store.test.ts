import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { createStore, openDatabase } from '../../hub/store.ts';
import { createSampleHistory } from '../../hub/sample-history.ts';
import { createTokenService } from '../../hub/tokens.ts';
import { createMembership } from '../../hub/membership.ts';
import { MIGRATIONS } from '../../hub/migrations.ts';
import { tempDir } from '../helpers/processes.ts';
import type { SampleData } from '../../protocol/index.ts';

const data: SampleData = {
  cpu: [], load: [0, 0, 0], filesystems: [], network: [], temperatures: [], unavailable: [],
  memory: { totalBytes: 1, availableBytes: 1, freeBytes: 1, buffersBytes: 0, cachedBytes: 0, swapTotalBytes: 0, swapFreeBytes: 0 },
};
const HOUR = 3_600_000;

test('a new database is migrated to the latest version, in WAL mode', () => {
  const path = join(tempDir('store'), 'm.db');
  createStore({ path }).close();
  const db = new Database(path, { readonly: true });
  assert.is(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  assert.is(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
});

test('a database from a newer muster is refused, not damaged', () => {
  const path = join(tempDir('store'), 'n.db');
  const db = new Database(path);
  db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  db.close();
  assert.throws(() => createStore({ path }), /newer than this hub knows/);
});

/** The code of the MusterError `fn` throws. */
function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

test('a held name is refused to any join, its own machine-id included, and so is a name with the same DNS label', () => {
  const s = createStore({ path: ':memory:' });
  const a = s.joinNode('pi-1', 'm1', 1);
  assert.is(codeOf(() => s.joinNode('pi-1', 'm1', 2)), 'MUSTER_ERR_NODE_NAME_TAKEN', 'machine-id is not proof');
  assert.is(codeOf(() => s.joinNode('pi-1', 'm2', 3)), 'MUSTER_ERR_NODE_NAME_TAKEN');
  for (const twin of ['pi_1', 'PI-1', 'pi.1']) assert.is(codeOf(() => s.joinNode(twin, 'm3', 4)), 'MUSTER_ERR_NODE_NAME_TAKEN', twin);
  try {
    s.joinNode('pi_1', 'm3', 5);
  } catch (err) {
    assert.is((err as { details?: { node?: string } }).details?.node, 'pi-1', 'the refusal names the node that holds the label');
  }
  assert.equal(s.listNodes().map((n) => [n.id, n.name, n.machineId]), [[a.id, 'pi-1', 'm1']]);
  s.close();
});

test('a join token made without a ttl expires after an hour; ttl 0 never does; admin and metrics tokens have no default expiry', () => {
  const store = createStore({ path: ':memory:' });
  let t = 1_000_000;
  const tokens = createTokenService({ store, now: () => t });
  const join = tokens.create('agent');
  const forever = tokens.create('agent', { ttlMs: 0 });
  const metrics = tokens.create('metrics');
  const admin = tokens.create('admin');
  assert.is(join.record.expiresAt, t + 3_600_000);
  assert.is(forever.record.expiresAt, null);
  assert.is(metrics.record.expiresAt, null);
  assert.is(metrics.record.role, 'metrics');
  t += 3_600_000 - 1;
  assert.ok(tokens.check(join.token).ok, 'valid until the hour is up');
  t += 1;
  assert.equal(tokens.check(join.token), { ok: false, reason: 'expired', record: store.getToken(join.record.id) });
  t += 365 * 86_400_000;
  for (const k of [forever, metrics, admin]) assert.ok(tokens.check(k.token).ok, `${k.record.role} token still valid a year on`);
  store.close();
});

test('a join token with uses counts successful joins only, and is used up after them', () => {
  const store = createStore({ path: ':memory:' });
  const t = 1_000;
  const tokens = createTokenService({ store, now: () => t });
  const membership = createMembership({ store, tokens, now: () => t });
  const once = tokens.create('agent', { maxUses: 1 });
  membership.join(tokens.verify(once.token)!, 'a', 'm-a');
  assert.is(tokens.check(once.token).ok, false);
  assert.is((tokens.check(once.token) as { reason: string }).reason, 'used up');
  const twice = tokens.create('agent', { maxUses: 2 });
  assert.is(codeOf(() => membership.join(tokens.verify(twice.token)!, 'a', 'm-x')), 'MUSTER_ERR_NODE_NAME_TAKEN');
  assert.is(store.getToken(twice.record.id)!.uses, 0, 'a refused join costs no use');
  membership.join(tokens.verify(twice.token)!, 'b', 'm-b');
  membership.join(tokens.verify(twice.token)!, 'c', 'm-c');
  assert.is(tokens.verify(twice.token), undefined);
  assert.is(store.useToken(twice.record.id, t), false, 'no use past the limit, even asked directly');
  store.close();
});

test('a replacement needs consent: an open window or a token bound to the name; it keeps the node, revokes its credentials, records the machine-id', () => {
  const store = createStore({ path: ':memory:' });
  let t = 1_000;
  const tokens = createTokenService({ store, now: () => t });
  const membership = createMembership({ store, tokens, now: () => t });
  const join = tokens.create('agent', { ttlMs: 0 }).record;
  const first = membership.join(join, 'pi', 'm-old');
  const revoked: string[] = [];
  tokens.onRevoke((r) => revoked.push(r.id));
  assert.is(codeOf(() => membership.join(join, 'pi', 'm-old')), 'MUSTER_ERR_NODE_NAME_TAKEN');

  membership.allowReplacement('pi');
  t += 3_600_000; // the window is one hour: at its end it is closed
  assert.is(codeOf(() => membership.join(join, 'pi', 'm-new')), 'MUSTER_ERR_NODE_NAME_TAKEN');
  membership.allowReplacement('pi');
  t += 60_000;
  const second = membership.join(join, 'pi', 'm-new');
  assert.is(second.node.id, first.node.id, 'same node, same history');
  assert.is(second.node.machineId, 'm-new');
  assert.equal(second.replaced, { previousMachineId: 'm-old' });
  assert.is(tokens.verify(first.credential), undefined, 'the old credential is revoked');
  assert.equal(revoked.length, 1, 'listeners heard of it (the gateway cuts the link)');
  assert.ok(tokens.verify(second.credential));
  assert.is(codeOf(() => membership.join(join, 'pi', 'm-third')), 'MUSTER_ERR_NODE_NAME_TAKEN', 'the window allows one join');

  const bound = tokens.create('agent', { replaceNode: 'pi', maxUses: 1 });
  assert.is(codeOf(() => membership.join(bound.record, 'other', 'm-o')), 'MUSTER_ERR_UNAUTHORIZED', 'a --replace token joins no other name');
  const third = membership.join(tokens.verify(bound.token)!, 'pi', 'm-third');
  assert.is(third.node.id, first.node.id);
  assert.is(tokens.verify(bound.token), undefined, 'used up');
  store.close();
});

test('removing a node deletes it with its credentials, samples, workloads and events, and frees its name', async () => {
  const db = openDatabase(':memory:');
  const store = createStore({ db });
  const t = 1_000;
  const tokens = createTokenService({ store, now: () => t });
  const membership = createMembership({ store, tokens, now: () => t });
  const forgotten: number[] = [];
  membership.onRemove((n) => forgotten.push(n.id));
  const { node, credential } = membership.join(tokens.create('agent').record, 'gone', 'm');
  const keep = membership.join(tokens.create('agent').record, 'kept', 'm2').node;
  store.insertSamples(node.id, [{ sample: { seq: 1, ts: t, data }, cpuUsed: 0.1, memUsed: 1 }], { dropped: 0 }, t);
  db.prepare("INSERT INTO workloads (node_id, kind, key, data_json, updated_at) VALUES (?, 'units', 'x', '{}', 0)").run(node.id);
  db.prepare("INSERT INTO events (ts, node_id, kind, subject, detail_json) VALUES (0, ?, 'node.joined', 'gone', '{}')").run(node.id);
  await membership.remove('gone');
  assert.is(store.getNodeByName('gone'), undefined);
  assert.is(store.getNodeById(node.id), undefined);
  assert.equal(store.listNodes().map((n) => n.name), ['kept']);
  assert.is(store.latestSample(node.id), undefined);
  assert.is(tokens.verify(credential), undefined);
  for (const table of ['samples', 'workloads', 'events', 'node_progress', 'tokens']) {
    assert.is((db.prepare(`SELECT count(*) AS n FROM ${table} WHERE node_id = ?`).get(node.id) as { n: number }).n, 0, table);
  }
  assert.equal(forgotten, [node.id]);
  assert.ok(store.getNodeById(keep.id));
  assert.is(membership.join(tokens.create('agent').record, 'gone', 'm3').node.name, 'gone', 'the name is free again');
  try {
    await membership.remove('never-was');
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, 'MUSTER_ERR_NODE_NOT_FOUND');
  }
  store.close();
  db.close();
});

test('the migration keeps existing tokens and lets the new roles in', () => {
  const path = join(tempDir('store'), 'old.db');
  const old = new Database(path);
  old.exec(MIGRATIONS.slice(0, 6).join('\n'));
  old.pragma('user_version = 6');
  old.prepare("INSERT INTO tokens (id, role, hash, created_at) VALUES ('aaaaaaaaaaaa', 'agent', 'h', 1)").run();
  old.close();
  const s = createStore({ path });
  assert.equal({ ...s.getToken('aaaaaaaaaaaa')!, hash: 'h' }, {
    id: 'aaaaaaaaaaaa', role: 'agent', hash: 'h', nodeId: null, label: '', createdAt: 1, expiresAt: null, revokedAt: null, lastUsedAt: null,
    maxUses: null, uses: 0, replaceNode: null, scope: null,
  });
  s.insertToken({ id: 'bbbbbbbbbbbb', role: 'metrics', hash: 'h', nodeId: null, label: '', createdAt: 2, expiresAt: null, revokedAt: null, lastUsedAt: null, maxUses: null, uses: 0, replaceNode: null, scope: null });
  assert.is(s.getToken('bbbbbbbbbbbb')!.role, 'metrics');
  s.close();
});

test('a deployer token keeps its scope; a viewer has none', () => {
  const s = createStore({ path: ':memory:' });
  const base = { hash: 'h', nodeId: null, createdAt: 3, expiresAt: null, revokedAt: null, lastUsedAt: null, maxUses: null, uses: 0, replaceNode: null };
  s.insertToken({ ...base, id: 'cccccccccccc', role: 'deployer', label: 'alice', scope: { services: ['web-*'], nodes: { tier: ['web', 'edge'] } } });
  s.insertToken({ ...base, id: 'dddddddddddd', role: 'viewer', label: 'bob', scope: null });
  assert.equal(s.getToken('cccccccccccc')!.scope, { services: ['web-*'], nodes: { tier: ['web', 'edge'] } });
  assert.is(s.getToken('dddddddddddd')!.scope, null);
  s.close();
});

test('samples are stored once: a replay does not duplicate and the acked seq only grows', () => {
  const s = createStore({ path: ':memory:' });
  const n = s.joinNode('n', 'm', 0);
  const row = (seq: number) => ({ sample: { seq, ts: seq * 1000, data }, cpuUsed: 0.1, memUsed: 5 });
  s.insertSamples(n.id, [row(1), row(2), row(3)], { dropped: 0 }, 1);
  assert.is(s.getNodeById(n.id)!.ackedSeq, 3);
  s.insertSamples(n.id, [row(2), row(3)], { dropped: 0 }, 2);
  assert.is(s.getNodeById(n.id)!.ackedSeq, 3);
  assert.equal(s.samplePoints(n.id, 0, 100).map((p) => p.seq), [1, 2, 3]);
  s.close();
});

test('rollup turns raw samples older than the retention into hourly rows with p95 and max', () => {
  const db = openDatabase(':memory:');
  const s = createStore({ db });
  const n = s.joinNode('n', 'm', 0);
  const rows = Array.from({ length: 100 }, (_, i) => ({ sample: { seq: i + 1, ts: i * 10_000, data }, cpuUsed: (i + 1) / 100, memUsed: i }));
  s.insertSamples(n.id, rows, { dropped: 0 }, 0);
  const recent = { sample: { seq: 101, ts: 5 * HOUR, data }, cpuUsed: 0.5, memUsed: 1 };
  s.insertSamples(n.id, [recent], { dropped: 0 }, 0);
  const removed = s.rollup(2 * HOUR);
  assert.is(removed, 100);
  assert.equal(s.samplePoints(n.id, 0, 1000).map((p) => p.seq), [101], 'recent samples stay raw');
  // The rolled-up hour lives on as a row with its samples' figures, read back the way the API and placement read it.
  assert.equal(createSampleHistory(db).hourly(n.id, 0), [
    { hour: 0, n: 100, cpuAvg: 0.505, cpuP95: 0.95, cpuMax: 1, memAvg: 49.5, memP95: 94, memMax: 99 },
    { hour: 5 * HOUR, n: 1, cpuAvg: 0.5, cpuP95: 0.5, cpuMax: 0.5, memAvg: 1, memP95: 1, memMax: 1 },
  ]);
  s.close();
  db.close();
});

test('tokens: only the hash is stored; wrong, expired and revoked tokens do not verify', () => {
  const store = createStore({ path: ':memory:' });
  let t = 1_000;
  const tokens = createTokenService({ store, now: () => t });
  const { token, record } = tokens.create('agent', { ttlMs: 60_000 });
  assert.match(token, /^muster_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
  // The secret is everything after muster_<id>_ (base64url: it may hold '_' itself).
  const secret = token.slice('muster_'.length + record.id.length + 1);
  assert.is(secret.length, 43);
  assert.not.ok(store.getToken(record.id)!.hash.includes(secret));
  assert.is(tokens.verify(token)?.id, record.id);
  assert.is(tokens.verify(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), undefined);
  assert.is(tokens.verify('garbage'), undefined);
  t += 60_000;
  assert.is(tokens.verify(token), undefined, 'expired');
  const admin = tokens.create('admin');
  let seen = '';
  tokens.onRevoke((r) => { seen = r.id; });
  tokens.revoke(admin.record.id);
  assert.is(seen, admin.record.id);
  assert.is(tokens.verify(admin.token), undefined, 'revoked');
  try {
    tokens.revoke('nope');
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, 'MUSTER_ERR_TOKEN_NOT_FOUND');
  }
  store.close();
});

test.run();
