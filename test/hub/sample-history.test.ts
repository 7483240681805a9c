/**
 * Hourly history beyond the 48 h of raw samples: ten days of samples with
 * injected timestamps, the hub's maintenance rolls the old ones up, and the
 * hourly series, the API and placement must still see what happened a week
 * ago. Each test fails if the rollup stops writing `sample_hours` or if the
 * readers stop reading it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { createStore, openDatabase, type Store } from '../../hub/store.ts';
import { createSampleHistory, hoursOf } from '../../hub/sample-history.ts';
import { createMaintenance } from '../../hub/maintenance.ts';
import { nodeCapacities } from '../../hub/capacity.ts';
import { rankPlacements, type PlacementRequest } from '../../hub/placement.ts';
import { startHub } from '../../hub/main.ts';
import type { HostFacts, SampleData } from '../../protocol/index.ts';
import { api, tempDir, trustHub } from '../helpers/processes.ts';

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const GiB = 1024 ** 3;
/** Half past noon, so the current hour is a partial one. */
const NOW = Date.UTC(2025, 0, 20, 12, 30);
const hourOf = (t: number) => Math.floor(t / HOUR) * HOUR;
/** Twelve hours, five days back: older than the raw retention, inside the week. */
const SPELL_START = hourOf(NOW - 5 * DAY);
const SPELL_END = SPELL_START + 12 * HOUR;

const data: SampleData = {
  cpu: [], load: [0, 0, 0], filesystems: [], network: [], temperatures: [], unavailable: [],
  memory: { totalBytes: 8 * GiB, availableBytes: 4 * GiB, freeBytes: 4 * GiB, buffersBytes: 0, cachedBytes: 0, swapTotalBytes: 0, swapFreeBytes: 0 },
};

/** A 4-core, 8 GiB node: the facts placement reads, not a whole report. */
const facts = (name: string): HostFacts => ({
  hostname: name, machineId: name, os: { id: 'debian', name: 'Debian', version: '12', prettyName: 'Debian 12' }, kernel: '6.1', arch: 'amd64', platform: 'linux/amd64',
  cpu: { model: 'x', cores: 4 }, memoryBytes: 8 * GiB, swapBytes: 0, bootTime: 1, rebootRequired: false, labels: {}, filesystems: [], addresses: [],
  runtime: 'node', agentVersion: '0.1.0',
} as Partial<HostFacts> as HostFacts);

/**
 * A sample a minute for ten days up to NOW. Quiet: 1/8 of the CPU and 1 GiB.
 * With `spell`, the twelve hours from SPELL_START run at (m+1)/64 of the CPU in
 * minute m (exact in binary, so averages compare exactly) and 6 GiB.
 */
function use(t: number, spell: boolean): { cpu: number; mem: number } {
  if (spell && t >= SPELL_START && t < SPELL_END) return { cpu: (new Date(t).getUTCMinutes() + 1) / 64, mem: 6 * GiB };
  return { cpu: 0.125, mem: GiB };
}

/**
 * Writes the samples straight into the table, as ingest leaves them: these
 * tests are about what happens to stored samples, not about the link.
 */
function addSamples(db: Database.Database, nodeId: number, spell: boolean, from = NOW - 10 * DAY, to = NOW): void {
  const insert = db.prepare('INSERT INTO samples (node_id, seq, ts, cpu_used, mem_used, data_json) VALUES (?, ?, ?, ?, ?, ?)');
  const json = JSON.stringify(data);
  db.transaction(() => {
    let seq = 1;
    for (let t = from; t <= to; t += MIN) {
      const u = use(t, spell);
      insert.run(nodeId, seq++, t, u.cpu, u.mem, json);
    }
  })();
}

function fleet(dir = tempDir('history')) {
  const db = openDatabase(join(dir, 'muster.db'));
  const store = createStore({ db });
  const hot = store.joinNode('hot', 'm-hot', NOW - 10 * DAY);
  const calm = store.joinNode('calm', 'm-calm', NOW - 10 * DAY);
  addSamples(db, hot.id, true);
  addSamples(db, calm.id, false);
  const maintenance = createMaintenance({ store, events: { pruneEvents: () => 0 }, now: () => NOW, log: silent });
  return { dir, db, store, hot, calm, history: createSampleHistory(db), maintenance };
}

test('after maintenance, a week by the hour is one series: rolled-up hours with their figures, then hours from raw samples', () => {
  const { db, store, hot, history, maintenance } = fleet();
  const before = history.hourly(hot.id, NOW - 7 * DAY);
  assert.ok(maintenance.runOnce() > 0, 'samples older than 48 h were rolled up');
  const raw = store.usePoints(hot.id, 0);
  assert.is(raw[0]!.ts, hourOf(NOW - 48 * HOUR), 'raw samples keep 48 h (from the hour it falls in)');

  const week = history.hourly(hot.id, NOW - 7 * DAY);
  assert.is(week.length, 7 * 24 + 1, 'every hour of the week and the current one');
  assert.is(week[0]!.hour, hourOf(NOW - 7 * DAY));
  assert.ok(week.every((h, i) => i === 0 || h.hour - week[i - 1]!.hour === HOUR), 'no gap where rolled-up hours meet raw ones');
  assert.equal(week, before, 'the hours read the same after the rollup as before it');

  // An hour of the spell, five days back: only sample_hours holds it now.
  const spell = week.find((h) => h.hour === SPELL_START)!;
  assert.equal(spell, {
    hour: SPELL_START, n: 60,
    cpuAvg: 1830 / 3840, cpuP95: 57 / 64, cpuMax: 60 / 64,
    memAvg: 6 * GiB, memP95: 6 * GiB, memMax: 6 * GiB,
  });
  assert.equal(week.find((h) => h.hour === hourOf(NOW - 3 * DAY)), { hour: hourOf(NOW - 3 * DAY), n: 60, cpuAvg: 0.125, cpuP95: 0.125, cpuMax: 0.125, memAvg: GiB, memP95: GiB, memMax: GiB });
  assert.equal(week.at(-1), { hour: hourOf(NOW), n: 31, cpuAvg: 0.125, cpuP95: 0.125, cpuMax: 0.125, memAvg: GiB, memP95: GiB, memMax: GiB }, 'the current hour so far, from raw samples');
  assert.is(history.hourly(hot.id, NOW - 10 * DAY).length, 10 * 24 + 1, 'further back than a week too');
  db.close();
});

test('samples that arrive after their hour was rolled up count with it until the next rollup', () => {
  const { db, hot, history, maintenance } = fleet();
  maintenance.runOnce();
  const hour = hourOf(NOW - 4 * DAY);
  // An agent's outbox replayed late: 20 samples of an hour already rolled up, at 5/8 of the CPU.
  const insert = db.prepare('INSERT INTO samples (node_id, seq, ts, cpu_used, mem_used, data_json) VALUES (?, ?, ?, ?, ?, ?)');
  for (let i = 0; i < 20; i++) insert.run(hot.id, 100_000 + i, hour + i * 1000, 0.625, 3 * GiB, JSON.stringify(data));
  const h = history.hourly(hot.id, hour).find((x) => x.hour === hour)!;
  assert.equal([h.n, h.cpuAvg, h.cpuMax, h.memMax], [80, (60 * 0.125 + 20 * 0.625) / 80, 0.625, 3 * GiB]);
  db.close();
});

test('hoursOf summarises raw points per hour the way the rollup does: nearest-rank p95, nulls left out of the figures but counted', () => {
  const pts = [
    ...Array.from({ length: 20 }, (_, i) => ({ ts: HOUR + i * MIN, cpuUsed: (i + 1) / 32, memUsed: i === 0 ? null : 100 })),
    { ts: 0, cpuUsed: null, memUsed: null },
  ];
  assert.equal(hoursOf(pts), [
    { hour: 0, n: 1, cpuAvg: null, cpuP95: null, cpuMax: null, memAvg: null, memP95: null, memMax: null },
    { hour: HOUR, n: 20, cpuAvg: 210 / 640, cpuP95: 19 / 32, cpuMax: 20 / 32, memAvg: 100, memP95: 100, memMax: 100 },
  ]);
});

const request = (over: Partial<PlacementRequest> = {}): PlacementRequest => ({
  cpu: 1, memoryBytes: 2 * GiB, diskBytes: 0, constraints: {}, ports: [], strategy: 'binpack', ...over,
});

function capacityOf(store: Store, history: ReturnType<typeof createSampleHistory>) {
  const online = { listNodes: () => store.listNodes().map((n) => ({ ...n, online: true, facts: facts(n.name) })) };
  return nodeCapacities({
    store: { ...online, usePoints: store.usePoints, latestSample: store.latestSample },
    history, inventory: { get: () => undefined, views: () => [] }, recentJobs: () => [], now: () => NOW,
  });
}

test('placement rejects a node for a hot spell five days ago, which its raw samples no longer show', () => {
  const { db, store, hot, history, maintenance } = fleet();
  maintenance.runOnce();
  assert.ok(store.usePoints(hot.id, 0).every((p) => p.cpuUsed === 0.125), 'the raw samples show a quiet node');

  const nodes = capacityOf(store, history);
  const h = nodes.find((n) => n.name === 'hot')!;
  assert.equal(h.usage, {
    cpuP95Hour: 0.5, cpuP95Day: 0.5, memP95Hour: GiB, memP95Day: GiB,
    // 12 of the week's 169 hours are past its 95th percentile: the spell's hourly p95 is the figure.
    cpuP95Week: 4 * 57 / 64, memP95Week: 6 * GiB,
  });
  assert.equal(nodes.find((n) => n.name === 'calm')!.usage, {
    cpuP95Hour: 0.5, cpuP95Day: 0.5, memP95Hour: GiB, memP95Day: GiB, cpuP95Week: 0.5, memP95Week: GiB,
  });

  const a = rankPlacements(request(), nodes);
  assert.is(a.best, 'calm');
  const hotRank = a.ranked.find((r) => r.node === 'hot')!;
  assert.equal(hotRank.reasons.map((r) => r.code), ['cpu', 'memory']);
  assert.match(hotRank.reasons[0]!.message, /p95 use 3\.56 over the last week\)$/);
  assert.equal([hotRank.figures.cpuUsedOver, hotRank.figures.memoryUsedOver], ['week', 'week']);

  // A request the spell leaves room for: hot fits, and binpack ranks it above calm for what it used that week.
  const small = rankPlacements(request({ cpu: 0.01, memoryBytes: 0 }), nodes);
  assert.equal(small.ranked.map((r) => [r.node, r.feasible]), [['hot', true], ['calm', true]]);
  db.close();
});

test('GET /api/v1/nodes/:name/samples?resolution=1h returns the week by the hour; raw stays the default; bad values are 400', async () => {
  const { dir, db, store, hot } = fleet();
  store.setFacts(hot.id, facts('hot'), NOW);
  store.close();
  db.close();
  // The hub's own maintenance rolls up at start, with the injected clock.
  const hub = await startHub({ dataDir: dir, host: '127.0.0.1', port: 0, logger: false, dns: false, now: () => NOW });
  if (hub.caFile) trustHub(hub.url, hub.caFile);
  try {
    const get = (q: string) => api(hub.url, hub.adminToken, `/api/v1/nodes/hot/samples${q}`);
    const hourly = await get('?resolution=1h');
    assert.is(hourly.status, 200);
    assert.is(hourly.body.resolution, '1h');
    assert.is(hourly.body.samples.length, 7 * 24 + 1, 'a week by default');
    assert.is(hourly.body.samples[0].ts, new Date(hourOf(NOW - 7 * DAY)).toISOString());
    assert.equal(hourly.body.samples.find((s: { ts: string }) => s.ts === new Date(SPELL_START).toISOString()), {
      ts: new Date(SPELL_START).toISOString(), n: 60,
      cpuPercent: { avg: 47.7, p95: 89.1, max: 93.8 },
      memUsedBytes: { avg: 6 * GiB, p95: 6 * GiB, max: 6 * GiB },
    });
    assert.is((await get('?resolution=1h&since=10d')).body.samples.length, 10 * 24 + 1);
    assert.is((await get(`?resolution=1h&since=${new Date(NOW - DAY).toISOString()}&limit=2`)).body.samples.length, 2);

    const raw = await get('');
    assert.is(raw.status, 200);
    assert.is(raw.body.resolution, undefined, 'the raw answer is unchanged');
    assert.is(raw.body.samples[0].ts, new Date(hourOf(NOW - 48 * HOUR)).toISOString(), 'raw samples only go back 48 h');
    assert.ok('seq' in raw.body.samples[0]);

    for (const q of ['?resolution=5m', '?resolution=1h&since=yesterday', '?resolution=1h&limit=0']) {
      const bad = await get(q);
      assert.is(bad.status, 400, q);
      assert.is(bad.body.error.code, 'MUSTER_ERR_BAD_REQUEST', q);
    }

    // Placement through the hub's own wiring sees the week too (the nodes are offline until their agents connect).
    const p = await api(hub.url, hub.adminToken, '/api/v1/placements', { method: 'POST', body: { cpu: 1, memory: '2G' } });
    assert.is(p.status, 200);
    const hotRank = p.body.ranked.find((r: { node: string }) => r.node === 'hot');
    assert.equal(hotRank.reasons.map((r: { code: string }) => r.code), ['offline', 'cpu', 'memory']);
    assert.is(hotRank.figures.cpuUsedOver, 'week');
  } finally {
    await hub.close();
  }
});

test.run();
