/**
 * How long the Loki pusher holds the hub's event loop: 40,000 stored lines
 * (100 nodes, three containers each, lines of 80-150 bytes) pushed to the
 * strict stand-in with the default 256 KiB pushes, while a 1 ms interval
 * timer notes every gap between its turns. Per run: the time to push them
 * all and the longest gap (what an ack due meanwhile would wait at most).
 * In one process, stand-in included, so its decoding counts in the gaps
 * too: compare runs of two commits on the same machine, not absolute values.
 *
 *   node bench/logs-push-stall.ts [RUNS]     (default 5)
 */
import { Registry } from 'prom-client';
import { createStore, openDatabase } from '../hub/store.ts';
import { createGroupCommit } from '../hub/group-commit.ts';
import { createLogStore } from '../hub/logs/log-store.ts';
import { createLogMetrics } from '../hub/logs/log-metrics.ts';
import { createLokiPusher } from '../hub/logs/loki-pusher.ts';
import { startLokiStandIn } from '../test/helpers/loki.ts';
import { median } from './stats.ts';

const runs = Number(process.argv[2] ?? 5);
const silent = { info() {}, warn() {}, error() {}, debug() {} };
const db = openDatabase(':memory:');
const commits = createGroupCommit({ db, now: Date.now, log: silent }, { everyMs: 20 });
const store = createStore({ db, commits });
const logs = createLogStore({ db, commits, now: Date.now });
const metrics = createLogMetrics(new Registry(), logs);
let seq = 0;
const t0 = Date.now() - 60_000;
for (let n = 0; n < 100; n++) {
  const node = store.joinNode(`n${n}`, `m${n}`, Date.now());
  const src = [0, 1, 2].map((c) => ({ kind: 'docker' as const, name: `web-${c}`, id: String(c).repeat(64), image: 'nginx:1', compose: 'web' }));
  for (let b = 0; b < 4; b++) {
    const lines = Array.from({ length: 100 }, (_, i) => ({ s: i % 3, t: t0 + b * 1000 + i, n: 0, l: `10.0.0.7 - - "GET /api/v1/items/${i}?page=${b} HTTP/1.1" 200 5123 "-" "Mozilla/5.0 (X11; Linux x86_64) rt=0.004" ${'y'.repeat(i % 70)}` }));
    logs.ingest(node, { type: 'logs', seq: ++seq, ts: t0, src, lines });
  }
}
commits.flush();
const results: { ms: number; maxGap: number }[] = [];
for (let run = 0; run < runs; run++) {
  const loki = await startLokiStandIn();
  // A tenant per run is a target per run: its cursor starts at 0.
  const pusher = createLokiPusher({ store: logs, now: Date.now, log: silent, metrics }, { url: loki.url, tenant: `run${run}` }, { batchWaitMs: 1 });
  let maxGap = 0;
  let last = performance.now();
  const iv = setInterval(() => { const t = performance.now(); maxGap = Math.max(maxGap, t - last); last = t; }, 1);
  const start = performance.now();
  pusher.start();
  pusher.kick();
  await pusher.drained();
  const ms = performance.now() - start;
  clearInterval(iv);
  await pusher.close();
  const refused = loki.pushes.filter((p) => p.status !== 204).length;
  await loki.close();
  if (refused) throw new Error(`the stand-in refused ${refused} pushes`);
  results.push({ ms, maxGap });
  process.stderr.write(`run ${run + 1}: ${logs.stats().lines} lines pushed in ${ms.toFixed(0)} ms, longest event-loop gap ${maxGap.toFixed(1)} ms\n`);
}
commits.close();
db.close();
process.stdout.write(`median of ${runs}: pushed in ${median(results.map((r) => r.ms))!.toFixed(0)} ms, longest gap ${median(results.map((r) => r.maxGap))!.toFixed(1)} ms\n`);
