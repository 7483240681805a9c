/**
 * Group commit for the ingest path. Agents' samples, workloads and heartbeats
 * are queued and committed together every `everyMs` in one transaction; the
 * database runs with synchronous=FULL, so when a write's `done` runs, what it
 * wrote is fsync'd and an ack may go out. 2,000 agents then cost ~50 commits
 * a second instead of one per frame.
 *
 * A failed commit (disk full, I/O error, database locked) never throws out
 * of here: each write of the batch is told, the storage health says why, and
 * a later successful commit clears it. One write that fails for its own
 * reason (a constraint, a bug) is rolled back to its savepoint alone and
 * does not take the others down with it.
 */
import type Database from 'better-sqlite3';
import type { Logger } from './agent-gateway.ts';

/** Whether the hub's storage takes writes, and if not since when and why. */
export type StorageHealth =
  | { ok: true }
  | { ok: false; code: string; message: string; since: number; failures: number };

/** Where writes go: at once (tests, tools) or in the next group commit. */
export interface Committer {
  /**
   * Runs `write` inside a transaction; `done` runs once it is committed
   * (durable) or failed, never before. `write` must not throw for storage
   * faults it wants to survive: they fail the whole batch.
   */
  enqueue(write: () => void, done?: (err: Error | undefined) => void): void;
  /** The storage's health as of the last commit. */
  health(): StorageHealth;
}

/** What the group commit has done since it started. */
export interface CommitStats {
  commits: number;
  failures: number;
  /** Time spent in commits, fsync included. */
  seconds: number;
}

/** A committer that batches, with a timer. */
export interface GroupCommit extends Committer {
  stats(): CommitStats;
  /** Commits what is queued now (shutdown, tests). */
  flush(): void;
  /** Writes waiting for the next commit. */
  pending(): number;
  /** Called on every change between healthy and failing. */
  onHealthChange(fn: (h: StorageHealth) => void): () => void;
  /** Called after every commit with its duration in seconds, fsync included (for a histogram). */
  onCommit(fn: (seconds: number) => void): () => void;
  /** Commits what is queued and stops the timer. */
  close(): void;
}

export interface GroupCommitDeps {
  db: Database.Database;
  now: () => number;
  log: Logger;
}

export interface GroupCommitOptions {
  /** Longest a write waits for its commit (default 20 ms). */
  everyMs?: number;
  /** Commit at once when this many writes are queued (default 2,000). */
  maxPending?: number;
}

const STORAGE_FAULTS = ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_CORRUPT', 'SQLITE_NOMEM', 'SQLITE_PROTOCOL', 'SQLITE_NOTADB'];

/** True for errors of the disk or the database file rather than of one write: they fail a whole batch. */
export function isStorageFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && STORAGE_FAULTS.some((f) => code === f || code.startsWith(`${f}_`));
}

/** The code and a one-line message of a storage error, for health reports. */
export function describeFault(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e?.code === 'string' ? e.code : 'UNKNOWN', message: String(e?.message ?? err).split('\n')[0]!.slice(0, 300) };
}

/**
 * Tracks health from commit outcomes and logs only its transitions: one line
 * when storage starts failing, one when it works again, none per frame.
 */
function createHealthTracker(deps: { now: () => number; log: Logger }) {
  let health: StorageHealth = { ok: true };
  const listeners = new Set<(h: StorageHealth) => void>();
  const emit = () => { for (const fn of listeners) fn(health); };
  return {
    get: () => health,
    failed(err: unknown) {
      const { code, message } = describeFault(err);
      if (health.ok) {
        health = { ok: false, code, message, since: deps.now(), failures: 1 };
        deps.log.error({ code, err: message }, 'storage failed: the hub stops acking and asks agents to hold their data until it works again');
        emit();
      } else {
        health = { ...health, code, message, failures: health.failures + 1 };
      }
    },
    succeeded() {
      if (health.ok) return;
      deps.log.warn({ failedForMs: deps.now() - health.since, failures: health.failures }, 'storage works again: ingest resumes');
      health = { ok: true };
      emit();
    },
    on(fn: (h: StorageHealth) => void) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}

/** Runs every write at once in its own transaction; for tests and short-lived tools. */
export function immediateCommitter(db: Database.Database): Committer {
  let health: StorageHealth = { ok: true };
  return {
    enqueue(write, done) {
      try {
        db.transaction(write)();
        health = { ok: true };
      } catch (err) {
        if (isStorageFault(err)) health = { ok: false, ...describeFault(err), since: Date.now(), failures: 1 };
        done?.(err as Error);
        return;
      }
      done?.(undefined);
    },
    health: () => health,
  };
}

interface Op {
  write: () => void;
  done: ((err: Error | undefined) => void) | undefined;
}

/** Creates the group commit; the timer runs only while writes wait. */
export function createGroupCommit(deps: GroupCommitDeps, opts: GroupCommitOptions = {}): GroupCommit {
  const { db, log } = deps;
  const everyMs = opts.everyMs ?? 20;
  const maxPending = opts.maxPending ?? 2_000;
  const health = createHealthTracker(deps);
  let queue: Op[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const stats: CommitStats = { commits: 0, failures: 0, seconds: 0 };
  const commitListeners = new Set<(seconds: number) => void>();

  // Nested calls of a better-sqlite3 transaction function become savepoints.
  const savepoint = db.transaction((write: () => void) => write());
  const batch = db.transaction((ops: Op[], failed: Map<Op, Error>) => {
    for (const op of ops) {
      try {
        savepoint(op.write);
      } catch (err) {
        if (isStorageFault(err)) throw err;
        failed.set(op, err as Error);
      }
    }
  });

  const settle = (op: Op, err: Error | undefined) => {
    try {
      op.done?.(err);
    } catch (e) {
      log.error({ err: e }, 'a group-commit callback failed');
    }
  };

  function flush(): void {
    clearTimeout(timer);
    timer = undefined;
    if (queue.length === 0) return;
    const ops = queue;
    queue = [];
    const failed = new Map<Op, Error>();
    const started = performance.now();
    try {
      batch(ops, failed);
    } catch (err) {
      stats.failures++;
      stats.seconds += (performance.now() - started) / 1000;
      health.failed(err);
      for (const op of ops) settle(op, err as Error);
      return;
    }
    const took = (performance.now() - started) / 1000;
    stats.commits++;
    stats.seconds += took;
    for (const fn of commitListeners) fn(took);
    health.succeeded();
    for (const [op, err] of failed) log.error({ err }, 'a write of the group commit failed on its own and was rolled back');
    for (const op of ops) settle(op, failed.get(op));
  }

  return {
    enqueue(write, done) {
      if (closed) {
        done?.(new Error('the hub is shutting down'));
        return;
      }
      queue.push({ write, done });
      if (queue.length >= maxPending) flush();
      else if (!timer) {
        timer = setTimeout(flush, everyMs);
      }
    },
    health: health.get,
    stats: () => ({ ...stats }),
    flush,
    pending: () => queue.length,
    onHealthChange: health.on,
    onCommit(fn) {
      commitListeners.add(fn);
      return () => commitListeners.delete(fn);
    },
    close() {
      flush();
      closed = true;
    },
  };
}
