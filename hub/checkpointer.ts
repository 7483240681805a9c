/**
 * WAL checkpoints off the main thread. SQLite's automatic checkpoint runs
 * inside the commit that crosses its threshold: at 2,000 agents that is a
 * 4 MiB copy and an fsync of the database file on the hub's only thread
 * every second or so, and every ack waiting behind it. Here a worker thread
 * with its own connection checkpoints PASSIVE every `everyMs`; the main
 * connection's automatic checkpoint is off. Group commits leave gaps in
 * which a passive checkpoint completes, after which the next write starts
 * the WAL from its beginning again.
 *
 * Should the worker fall behind (the WAL past `maxWalBytes`), the main
 * connection checkpoints by itself again until it is back under, so the
 * WAL never grows without bound.
 */
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { Logger } from './agent-gateway.ts';

export interface CheckpointerOptions {
  /** How often the worker checkpoints (default 1 s). */
  everyMs?: number;
  /** WAL size past which the main connection helps (default 64 MiB). */
  maxWalBytes?: number;
}

/** What the checkpointer has done, for metrics and tests. */
export interface CheckpointerStats {
  runs: number;
  /** WAL frames at the last run, and how many of them were in the database file after it. */
  walFrames: number;
  checkpointedFrames: number;
  /** True while the main connection checkpoints itself because the worker fell behind. */
  mainHelping: boolean;
}

export interface Checkpointer {
  stats(): CheckpointerStats;
  close(): Promise<void>;
}

const PAGE = 4096;
const AUTO_PAGES = 1000;

/** Starts the worker for the database at `path`; `db` is the hub's main connection. */
export function startCheckpointer(deps: { db: Database.Database; path: string; log: Logger }, opts: CheckpointerOptions = {}): Checkpointer {
  const everyMs = opts.everyMs ?? 1_000;
  const maxFrames = Math.ceil((opts.maxWalBytes ?? 64 * 1024 * 1024) / PAGE);
  const stats: CheckpointerStats = { runs: 0, walFrames: 0, checkpointedFrames: 0, mainHelping: false };
  deps.db.pragma('wal_autocheckpoint = 0');
  // After a completed checkpoint resets the WAL, keep its file no bigger than this.
  deps.db.pragma(`journal_size_limit = ${maxFrames * PAGE}`);
  const helping = (on: boolean) => {
    if (on === stats.mainHelping) return;
    stats.mainHelping = on;
    deps.db.pragma(`wal_autocheckpoint = ${on ? AUTO_PAGES : 0}`);
    if (on) deps.log.warn({ walFrames: stats.walFrames }, 'the checkpoint worker fell behind; the main connection checkpoints too until the WAL is small again');
  };
  // From a checkout the worker is TypeScript beside this file; in the npm package, the compiled module beside the bundle.
  const workerFile = import.meta.url.endsWith('.ts') ? './checkpoint-worker.ts' : './checkpoint-worker.mjs';
  const worker = new Worker(new URL(workerFile, import.meta.url), { workerData: { path: deps.path, everyMs } });
  worker.unref();
  let failed = false;
  worker.on('message', (m: { type: 'checkpoint'; log: number; checkpointed: number } | { type: 'error'; code: string; message: string }) => {
    if (m.type === 'error') {
      if (!failed) deps.log.warn({ code: m.code, err: m.message }, 'WAL checkpoint failed; retrying every second');
      failed = true;
      return;
    }
    failed = false;
    stats.runs++;
    stats.walFrames = m.log;
    stats.checkpointedFrames = m.checkpointed;
    if (m.log > maxFrames) helping(true);
    else if (m.log < maxFrames / 2) helping(false);
  });
  worker.on('error', (err) => {
    deps.log.error({ err }, 'the checkpoint worker failed; the main connection checkpoints by itself');
    helping(true);
  });
  return {
    stats: () => ({ ...stats }),
    async close() {
      // Held while it closes: with the worker unref'd and nothing else left, the process would exit mid-await.
      worker.ref();
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('close');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, 2_000); })]);
      clearTimeout(timer);
      await worker.terminate().catch(() => undefined);
    },
  };
}
