/**
 * The hub's logs, assembled: the recent-log store, its metrics, the per-node
 * log budget, one Loki pusher per `--loki` target, and the pruning timer.
 * hub/main.ts creates one and hands its parts to the gateway and the server.
 */
import type Database from 'better-sqlite3';
import type { Registry } from 'prom-client';
import type { Committer } from '../group-commit.ts';
import type { Logger } from '../agent-gateway.ts';
import { createWriteBudget, type WriteBudget, type WriteBudgetOptions } from '../write-budget.ts';
import { createLogStore, type LogStore, type LogStoreOptions } from './log-store.ts';
import { createLogMetrics, type LogMetrics } from './log-metrics.ts';
import { createLokiPusher, type LokiPusher, type LokiPusherDeps, type LokiPusherOptions, type LokiTarget } from './loki-pusher.ts';

/** How the hub keeps and forwards logs. */
export interface HubLogsOptions {
  /** The recent-log store's bounds (`--logs-max-age`, `--logs-max-size`). */
  store?: LogStoreOptions;
  /** Where to push (`--loki`, repeatable); none, nothing is pushed. */
  loki?: LokiTarget[];
  /** Batching and retry timing of the pushes. */
  push?: LokiPusherOptions;
  /**
   * What one node may ship, apart from its samples' budget (default 8 MiB
   * and 60,000 lines a minute, a burst of 128 MiB, twice the agent's journal):
   * past it the node is paused, and keeps its lines.
   */
  budget?: WriteBudgetOptions;
  /** How often the store is pruned to its bounds (default 30 s). */
  pruneEveryMs?: number;
}

export interface HubLogsDeps {
  db: Database.Database;
  commits: Committer;
  registry: Registry;
  now: () => number;
  log: Logger;
  /** Replaces fetch for the pushes (tests). */
  send?: LokiPusherDeps['send'];
}

/** The assembled logs of a hub. */
export interface HubLogs {
  store: LogStore;
  metrics: LogMetrics;
  budget: WriteBudget;
  pushers: LokiPusher[];
  start(): void;
  close(): Promise<void>;
}

/** Creates the parts; nothing runs until start(). */
export function createHubLogs(deps: HubLogsDeps, opts: HubLogsOptions = {}): HubLogs {
  const store = createLogStore({ db: deps.db, commits: deps.commits, now: deps.now }, opts.store);
  const metrics = createLogMetrics(deps.registry, store);
  const budget = createWriteBudget(deps.now, {
    bytesPerMinute: 8 * 1024 * 1024, rowsPerMinute: 60_000, burstBytes: 128 * 1024 * 1024, burstRows: 1_000_000, ...opts.budget,
  });
  const pushers = (opts.loki ?? []).map((t) => createLokiPusher({ store, now: deps.now, log: deps.log, metrics, ...(deps.send ? { send: deps.send } : {}) }, t, opts.push));
  let timer: NodeJS.Timeout | undefined;
  const prune = () => {
    try {
      const removed = store.prune();
      if (removed > 0) deps.log.debug({ removed }, 'pruned log lines past the store\'s bound');
    } catch (err) {
      deps.log.warn({ err: (err as Error).message }, 'pruning the log store failed; trying again later');
    }
  };
  return {
    store, metrics, budget, pushers,
    start() {
      prune();
      timer ??= setInterval(prune, opts.pruneEveryMs ?? 30_000);
      timer.unref();
      for (const p of pushers) p.start();
    },
    async close() {
      clearInterval(timer);
      await Promise.all(pushers.map((p) => p.close()));
    },
  };
}
