import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { createStore, openDatabase } from '../../hub/store.ts';
import { createSampleHistory } from '../../hub/sample-history.ts';
import { createTokenService } from '../../hub/tokens.ts';
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

test('a name is held by its machine: the same machine re-joins, another gets MUSTER_ERR_NODE_NAME_TAKEN', () => {
  const s = createStore({ path: ':memory:' });
  const a = s.joinNode('pi-1', 'm1', 1);
  assert.is(s.joinNode('pi-1', 'm1', 2).id, a.id);
  try {
    s.joinNode('pi-1', 'm2', 3);
    assert.unreachable('should refuse');
  } catch (err) {
    assert.is((err as { code: string }).code, 'MUSTER_ERR_NODE_NAME_TAKEN');
  }
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
  assert.not.ok(store.getToken(record.id)!.hash.includes(token.split('_')[2]!));
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
