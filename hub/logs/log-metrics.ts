/**
 * The hub's log series on /metrics: lines and bytes received from agents,
 * pushed to each Loki, dropped (by reason) and spooled for a Loki that does
 * not take them yet, and what the recent-log store holds.
 *
 * Drop reasons: `agent_rate_limit` (a source over its rate on the agent),
 * `loki_rejected` (a Loki answered 4xx other than 429 for the batch),
 * `loki_spool_full` (lines pruned from the store before a Loki took them).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { LogDrops } from '../../protocol/logs.ts';
import type { LogStoreStats } from './log-store.ts';

/** What the gateway, the store and the pushers report. */
export interface LogMetrics {
  /** A batch arrived from an agent (counted once stored or not: received is what came over the link). */
  received(lines: number, bytes: number, drops: LogDrops | undefined): void;
  pushed(target: string, lines: number, bytes: number): void;
  dropped(reason: 'loki_rejected' | 'loki_spool_full', target: string, lines: number, bytes: number): void;
  /** A push answered with this HTTP status, or `error` for no answer. */
  request(target: string, status: string): void;
  /** A Loki target's spool, read at each scrape. */
  spool(target: string, read: () => { lines: number; bytes: number }): void;
}

/** Registers the log series on the hub's registry. */
export function createLogMetrics(registry: Registry, store: { stats(): LogStoreStats }): LogMetrics {
  const lines = new Counter({ name: 'muster_logs_received_lines_total', help: 'Log lines agents shipped to the hub.', registers: [registry] });
  const bytes = new Counter({ name: 'muster_logs_received_bytes_total', help: 'Bytes of log lines agents shipped to the hub.', registers: [registry] });
  const cut = new Counter({ name: 'muster_logs_cut_lines_total', help: 'Log lines agents cut at their line limit (shipped shortened).', registers: [registry] });
  const droppedLines = new Counter({ name: 'muster_logs_dropped_lines_total', help: 'Log lines dropped, by reason (agent_rate_limit, loki_rejected, loki_spool_full) and Loki target.', labelNames: ['reason', 'target'], registers: [registry] });
  const droppedBytes = new Counter({ name: 'muster_logs_dropped_bytes_total', help: 'Bytes of log lines dropped, by reason and Loki target.', labelNames: ['reason', 'target'], registers: [registry] });
  const pushedLines = new Counter({ name: 'muster_logs_pushed_lines_total', help: 'Log lines a Loki took.', labelNames: ['target'], registers: [registry] });
  const pushedBytes = new Counter({ name: 'muster_logs_pushed_bytes_total', help: 'Bytes of log lines a Loki took.', labelNames: ['target'], registers: [registry] });
  const requests = new Counter({ name: 'muster_loki_push_requests_total', help: 'Pushes to a Loki, by the HTTP status it answered (error: no answer).', labelNames: ['target', 'status'], registers: [registry] });
  const spools = new Map<string, () => { lines: number; bytes: number }>();
  new Gauge({
    name: 'muster_logs_spooled_lines', help: 'Log lines stored and not yet taken by a Loki target.', labelNames: ['target'], registers: [registry],
    collect() { this.reset(); for (const [t, read] of spools) this.set({ target: t }, read().lines); },
  });
  new Gauge({
    name: 'muster_logs_spooled_bytes', help: 'Bytes of log lines stored and not yet taken by a Loki target.', labelNames: ['target'], registers: [registry],
    collect() { this.reset(); for (const [t, read] of spools) this.set({ target: t }, read().bytes); },
  });
  new Gauge({ name: 'muster_logs_stored_lines', help: 'Log lines in the hub\'s recent-log store.', registers: [registry], collect() { this.set(store.stats().lines); } });
  new Gauge({ name: 'muster_logs_stored_bytes', help: 'Bytes of log lines in the hub\'s recent-log store (bounded by --logs-max-size).', registers: [registry], collect() { this.set(store.stats().bytes); } });
  new Counter({
    name: 'muster_logs_evicted_lines_total', help: 'Log lines pruned from the recent-log store for its age or size bound.', registers: [registry],
    collect() { this.reset(); this.inc(store.stats().evictedLines); },
  });
  // Zero series from the start, so a rate() over them works before the first drop.
  droppedLines.inc({ reason: 'agent_rate_limit', target: '' }, 0);
  droppedBytes.inc({ reason: 'agent_rate_limit', target: '' }, 0);
  return {
    received(n, b, drops) {
      lines.inc(n);
      bytes.inc(b);
      if (drops) {
        if (drops.rateLimited) droppedLines.inc({ reason: 'agent_rate_limit', target: '' }, drops.rateLimited);
        if (drops.rateLimitedBytes) droppedBytes.inc({ reason: 'agent_rate_limit', target: '' }, drops.rateLimitedBytes);
        if (drops.cut) cut.inc(drops.cut);
      }
    },
    pushed(target, n, b) {
      pushedLines.inc({ target }, n);
      pushedBytes.inc({ target }, b);
    },
    dropped(reason, target, n, b) {
      droppedLines.inc({ reason, target }, n);
      droppedBytes.inc({ reason, target }, b);
    },
    request: (target, status) => requests.inc({ target, status }),
    spool(target, read) {
      spools.set(target, read);
      pushedLines.inc({ target }, 0);
      pushedBytes.inc({ target }, 0);
    },
  };
}
