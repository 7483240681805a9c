/**
 * How the hub's own runtime is doing, for its /metrics: the event loop's
 * delay (every ack waits behind it) and the garbage collector's pauses by
 * kind. These are what the ingest bench needed to tell a slow commit from a
 * long scavenge, and what an operator needs when acks get slow.
 */
import { monitorEventLoopDelay, PerformanceObserver, constants } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';

export interface RuntimeMetrics {
  close(): void;
}

/** The GC kinds Node reports, by the names V8 gives them. */
const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark_compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak_callbacks',
};

/** Registers the runtime series on `registry`; the window of the delay quantiles is `windowMs` (default 60 s). */
export function createRuntimeMetrics(registry: Registry, opts: { windowMs?: number } = {}): RuntimeMetrics {
  const windowMs = opts.windowMs ?? 60_000;
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let windowStart = Date.now();
  let last = { p50: 0, p99: 0, max: 0 };
  /** The quantiles over a window that rolls every minute, whoever scrapes and however often. */
  const roll = () => {
    if (delay.count > 0) last = { p50: delay.percentile(50) / 1e9, p99: delay.percentile(99) / 1e9, max: delay.max / 1e9 };
    if (Date.now() - windowStart >= windowMs) {
      delay.reset();
      windowStart = Date.now();
    }
    return last;
  };
  // Three gauges, as prom-client's nodejs_eventloop_lag_*: a 'quantile' label belongs to summaries only.
  const gauge = (name: string, what: string, pick: (l: typeof last) => number) => new Gauge({
    name, help: `How late the hub's event loop ran its timers over the last minute, ${what}: acks wait this long behind other work.`, registers: [registry],
    collect() { this.set(pick(roll())); },
  });
  gauge('muster_hub_event_loop_delay_p50_seconds', 'median', (l) => l.p50);
  gauge('muster_hub_event_loop_delay_p99_seconds', '99th percentile', (l) => l.p99);
  gauge('muster_hub_event_loop_delay_max_seconds', 'worst', (l) => l.max);
  const pauses = new Counter({ name: 'muster_hub_gc_pauses_total', help: 'Garbage collections of the hub, by kind.', labelNames: ['kind'], registers: [registry] });
  const pauseSeconds = new Counter({ name: 'muster_hub_gc_pause_seconds_total', help: 'Time the hub spent in garbage collection, by kind.', labelNames: ['kind'], registers: [registry] });
  const longest = new Gauge({ name: 'muster_hub_gc_longest_pause_seconds', help: 'The longest garbage collection pause since the hub started, by kind.', labelNames: ['kind'], registers: [registry] });
  const worst = new Map<string, number>();
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = GC_KINDS[(e as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
      pauses.inc({ kind });
      pauseSeconds.inc({ kind }, e.duration / 1000);
      if (e.duration / 1000 > (worst.get(kind) ?? 0)) {
        worst.set(kind, e.duration / 1000);
        longest.set({ kind }, e.duration / 1000);
      }
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    close() {
      observer.disconnect();
      delay.disable();
    },
  };
}
