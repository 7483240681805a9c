/**
 * Periodic upkeep of the store: raw samples older than the retention are
 * rolled into hourly rows, and events and audit entries past their retention
 * are deleted.
 */
import type { Store } from './store.ts';
import type { WorkloadStore } from './workload-store.ts';
import type { Logger } from './agent-gateway.ts';
import { DEFAULT_AUDIT_RETENTION_MS, type AuditLog } from './audit.ts';

export interface MaintenanceDeps {
  store: Pick<Store, 'rollup'>;
  events: Pick<WorkloadStore, 'pruneEvents'>;
  /** The audit log; absent, nothing to prune there. */
  audit?: Pick<AuditLog, 'prune'>;
  now: () => number;
  log: Logger;
}

export interface MaintenanceOptions {
  /** Raw samples are kept at least this long (default 48 h; placement reads the last day raw, and the week from hourly rows and raw samples alike). */
  rawRetentionMs?: number;
  /** Events are kept this long (default 30 days). */
  eventRetentionMs?: number;
  /** Audit entries are kept this long (default 90 days). */
  auditRetentionMs?: number;
  /** How often to run (default 10 min). */
  everyMs?: number;
}

/** Starts nothing until `start()`; `runOnce()` is what the timer calls, exposed for tests. */
export function createMaintenance(deps: MaintenanceDeps, opts: MaintenanceOptions = {}) {
  const retention = opts.rawRetentionMs ?? 48 * 3_600_000;
  const eventRetention = opts.eventRetentionMs ?? 30 * 86_400_000;
  const auditRetention = opts.auditRetentionMs ?? DEFAULT_AUDIT_RETENTION_MS;
  const every = opts.everyMs ?? 10 * 60_000;
  let timer: NodeJS.Timeout | undefined;
  const runOnce = () => {
    let removed = 0;
    try {
      removed = deps.store.rollup(deps.now() - retention);
      if (removed > 0) deps.log.info({ removed }, 'rolled raw samples into hourly rows');
    } catch (err) {
      deps.log.error({ err }, 'sample rollup failed');
    }
    try {
      const pruned = deps.events.pruneEvents(deps.now() - eventRetention);
      if (pruned > 0) deps.log.info({ pruned }, 'deleted events past their retention');
    } catch (err) {
      deps.log.error({ err }, 'event pruning failed');
    }
    try {
      const pruned = deps.audit?.prune(deps.now() - auditRetention) ?? 0;
      if (pruned > 0) deps.log.info({ pruned }, 'deleted audit entries past their retention');
    } catch (err) {
      deps.log.error({ err }, 'audit pruning failed');
    }
    return removed;
  };
  return {
    runOnce,
    start() {
      timer ??= setInterval(runOnce, every);
      timer.unref();
    },
    close() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
