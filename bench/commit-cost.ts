/**
 * What a durable ack costs: the hub's group commit (a transaction of the
 * rows one 20 ms window brings at 2,000 agents: ~4 samples of 2 KiB, ~4
 * workloads upserts, ~8 progress rows) timed with synchronous=FULL, as the
 * hub runs (fsync before the ack), and with NORMAL (WAL appended, no fsync:
 * what a power cut can undo), on the same disk in one run, alternating.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseFlags, UsageError } from './bench-args.ts';
import { median, percentile } from './stats.ts';
import { fixed, formatTable } from './table.ts';

const USAGE = `Usage: node bench/commit-cost.ts [--commits 2000] [--dir DIR] [--json]

Times group commits of the hub's shape with synchronous=FULL (the hub's
setting: fsync before every ack) and NORMAL (no fsync), alternating, in a
database under DIR (default: the system's temp dir; pass the hub's data disk).
`;

interface Result { mode: string; medianMs: number | undefined; p99Ms: number | undefined; perSecondAt50: number | undefined }

function run(): number {
  const { values } = parseFlags(process.argv.slice(2), { commits: { type: 'string' }, dir: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) { process.stdout.write(USAGE); return 0; }
  const n = Number(values.commits ?? '2000');
  if (!Number.isInteger(n) || n < 100) throw new UsageError('--commits must be a whole number of at least 100');
  const dir = mkdtempSync(join(values.dir ?? tmpdir(), 'muster-commit-'));
  try {
    const dbs = (['FULL', 'NORMAL'] as const).map((mode) => {
      const db = new Database(join(dir, `${mode}.db`));
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${mode}`);
      db.exec(`CREATE TABLE samples (node_id INTEGER, seq INTEGER, ts INTEGER, data_json TEXT, PRIMARY KEY (node_id, seq)) WITHOUT ROWID;
        CREATE TABLE workloads (node_id INTEGER, key TEXT, data_json TEXT, PRIMARY KEY (node_id, key)) WITHOUT ROWID;
        CREATE TABLE progress (node_id INTEGER PRIMARY KEY, acked INTEGER)`);
      const ins = db.prepare('INSERT INTO samples VALUES (?, ?, ?, ?)');
      const up = db.prepare('INSERT INTO workloads VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET data_json = excluded.data_json');
      const prog = db.prepare('INSERT INTO progress VALUES (?, ?) ON CONFLICT DO UPDATE SET acked = excluded.acked');
      const sample = 'x'.repeat(2048);
      const item = 'y'.repeat(300);
      let seq = 0;
      const commit = db.transaction(() => {
        for (let i = 0; i < 4; i++) {
          const node = (seq * 7 + i) % 2000;
          ins.run(node, ++seq, Date.now(), sample);
          for (let k = 0; k < 4; k++) up.run(node, `p${k}`, item);
          prog.run(node, seq);
          prog.run((node + 1000) % 2000, seq);
        }
      });
      return { mode, db, commit, times: [] as number[] };
    });
    for (let i = 0; i < n; i++) {
      for (const d of dbs) {
        const t = performance.now();
        d.commit();
        d.times.push(performance.now() - t);
      }
    }
    const results: Result[] = dbs.map((d) => {
      d.db.close();
      const med = median(d.times);
      return { mode: d.mode, medianMs: med, p99Ms: percentile(d.times, 0.99), perSecondAt50: med === undefined ? undefined : med * 50 };
    });
    const table = formatTable(['synchronous', 'commit median', 'commit p99', 'ms per second at 50 commits/s'],
      results.map((r) => [r.mode, fixed(r.medianMs, 2, ' ms'), fixed(r.p99Ms, 2, ' ms'), fixed(r.perSecondAt50, 1, ' ms')]));
    process.stderr.write(`\n${table}\n${n} commits each, alternating, in ${dir}\n`);
    if (values.json) process.stdout.write(JSON.stringify({ bench: 'commit-cost', commits: n, results }, null, 2) + '\n');
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  process.exitCode = run();
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else throw err;
}
