/**
 * The checkpointer's worker thread (see hub/checkpointer.ts): its own
 * connection to the hub's database, running PASSIVE WAL checkpoints on a
 * timer and reporting each outcome. PASSIVE never waits for the writer, so
 * the hub's main thread is never held up by it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { path, everyMs } = workerData as { path: string; everyMs: number };
const db = new Database(path);
db.pragma('busy_timeout = 0');

const timer = setInterval(() => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    parentPort!.postMessage({ type: 'checkpoint', log: r?.log ?? 0, checkpointed: r?.checkpointed ?? 0 });
  } catch (err) {
    parentPort!.postMessage({ type: 'error', code: (err as { code?: string }).code ?? 'UNKNOWN', message: (err as Error).message });
  }
}, everyMs);

parentPort!.on('message', (m: unknown) => {
  if (m !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
