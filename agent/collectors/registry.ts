/**
 * The metrics collectors' registry, after node_exporter's collector.go: each
 * collector is one file exporting a {@link CollectorSpec} (its name, what it
 * reads, how often it runs, its cap, what it does when its source is
 * missing), listed once in agent/collectors/node-collectors.ts. Flags turn
 * them on and off by name (`--collector.NAME`, `--no-collector.NAME`), and
 * every run goes through {@link execute}, which times it and reports
 * `node_scrape_collector_duration_seconds` and
 * `node_scrape_collector_success{collector}`: a broken collector is a number
 * on the board, not a crash, and never hides the others.
 *
 * Collectors run every interval on V8's interpreter (the agent runs
 * --lite-mode, agent/runtime-flags.ts), so their loops over lines and series
 * are index loops: each for-of step there allocates an iterator result and
 * calls the iterator's builtins (-8 % of the idle agent's CPU, bench/README.md).
 */
import { isAbsent, reasonOf } from './read.ts';
import { createCollectorOutput, type CollectedFamily, type CollectorOutput, type MetricWriter } from './metric-writer.ts';

/** What a collector is given when it is created. */
export interface CollectorContext {
  /** Filesystem root the host files are read under; '/' on a real host, a fixture tree in tests. */
  root: string;
  /** The textfile collector's directory (`--textfile-dir`), if any. */
  textfileDir: string | undefined;
  /** Wall clock in ms (node_time_seconds); tests fix it. */
  now(): number;
}

/** One run of a collector: writes its families; throws when it cannot read its source. */
export type Collect = (out: MetricWriter) => void | Promise<void>;

/**
 * One collector. The name is node_exporter's, so `--collector.hwmon` and
 * `node_scrape_collector_success{collector="hwmon"}` mean what they mean there.
 */
export interface CollectorSpec {
  name: string;
  /** What it reads, for --help and the README (`/proc/meminfo`). */
  reads: string;
  /** On unless switched off: node_exporter's default set on Linux. */
  enabled: boolean;
  /** Runs every this many sample intervals; between runs its last output is shipped again (unchanged, so it costs nothing on the wire). */
  every: number;
  /** Series it may write per run; more are dropped and the run counts as failed. */
  maxSeries: number;
  /**
   * When its source does not exist on this host (no /proc/pressure on an
   * old kernel, no hwmon in a VM): `quiet` succeeds with no series, `nodata`
   * reports success 0 with no series, as node_exporter's ErrNoData does.
   */
  whenAbsent: 'quiet' | 'nodata';
  /** Makes the collector; state kept between runs (discovered sensors, a statfs that hangs) lives in the closure. */
  create(ctx: CollectorContext): Collect;
}

/** What one run of one collector gave. */
export interface CollectorRun {
  families: CollectedFamily[];
  seconds: number;
  success: boolean;
  /** Why it failed, when it did. */
  error: string | undefined;
  /** It failed because its source is not on this host (node_exporter's ErrNoData): normal, not worth a warning. */
  absent: boolean;
}

/** Finds a collector error that means "not on this host" rather than "broken". */
function absentSource(err: unknown): boolean {
  return isAbsent(err) || (err instanceof Error && 'code' in err && err.code === 'MUSTER_ERR_NO_DATA');
}

/** A collector's way to say its source is not on this host, like node_exporter's ErrNoData. */
export class NoDataError extends Error {
  readonly code = 'MUSTER_ERR_NO_DATA';
}

/**
 * Runs one collector and times it. What it wrote before failing is kept
 * (node_exporter does the same); dropped series fail the run, so a cap
 * that bites is seen. `out` is the collector's writer (made with its
 * maxSeries), kept from run to run: the families of its last run are
 * refilled by this one.
 */
export async function execute(
  spec: Pick<CollectorSpec, 'whenAbsent'>,
  collect: Collect,
  out: CollectorOutput,
  clock: () => number = monotonicMs,
): Promise<CollectorRun> {
  out.reset();
  const begin = clock();
  let success = true;
  let error: string | undefined;
  let absent = false;
  try {
    await collect(out);
  } catch (err) {
    absent = absentSource(err);
    success = spec.whenAbsent === 'quiet' && absent;
    if (!success) error = reasonOf(err);
  }
  const seconds = Math.max(0, clock() - begin) / 1000;
  const dropped = out.dropped();
  if (dropped.count > 0) {
    success = false;
    error ??= `${dropped.count} series dropped: ${dropped.reason ?? ''}`;
  }
  return { families: out.families(), seconds, success, error, absent: absent && dropped.count === 0 };
}

/**
 * Milliseconds from a monotonic clock. Not `performance.now()`: the global
 * `performance` loads Node's perf_hooks modules into the agent (~0.25 MiB on
 * Node 24) for nothing else.
 */
function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Which collectors run: node_exporter's flags, applied in its order. */
export interface CollectorSwitches {
  /** `--collector.NAME`: on, even when off by default or after disable-defaults. */
  enable?: readonly string[];
  /** `--no-collector.NAME`: off. */
  disable?: readonly string[];
  /** `--collector.disable-defaults`: every collector off unless named with --collector.NAME. */
  disableDefaults?: boolean;
}

/** The names of the collectors that run, in registry order; throws for a name the registry lacks. */
export function enabledCollectors(registry: readonly CollectorSpec[], switches: CollectorSwitches = {}): CollectorSpec[] {
  const known = new Set(registry.map((c) => c.name));
  for (const n of [...(switches.enable ?? []), ...(switches.disable ?? [])]) {
    if (!known.has(n)) throw new Error(`no collector named ${n}; the collectors are ${[...known].join(', ')}`);
  }
  const enable = new Set(switches.enable);
  const disable = new Set(switches.disable);
  return registry.filter((c) => !disable.has(c.name) && (enable.has(c.name) || (!switches.disableDefaults && c.enabled)));
}

/** Options for {@link createMetricsCollector}. */
export interface MetricsCollectorOptions {
  registry: readonly CollectorSpec[];
  switches?: CollectorSwitches;
  root?: string;
  textfileDir?: string;
  now?: () => number;
  /** Told once when a collector starts failing (`absent`: its source is not on this host) and once when it recovers, for the log. */
  onFailure?: (collector: string, error: string | undefined, absent: boolean) => void;
}

/** Runs the enabled collectors; see {@link createMetricsCollector}. */
export interface MetricsCollector {
  /** The names of the collectors that run. */
  readonly names: readonly string[];
  /** Runs the collectors that are due and returns every family, the scrape families included. */
  collect(): Promise<CollectedFamily[]>;
}

/**
 * Creates the node's metrics collector. Collectors run one after another
 * (their reads are synchronous /proc and /sys reads of microseconds each), so
 * each one's duration is its own; one that is not due this interval ships
 * its last output again.
 */
export function createMetricsCollector(opts: MetricsCollectorOptions): MetricsCollector {
  const ctx: CollectorContext = { root: opts.root ?? '/', textfileDir: opts.textfileDir, now: opts.now ?? Date.now };
  const active = enabledCollectors(opts.registry, opts.switches).map((spec) => ({
    spec,
    collect: spec.create(ctx),
    out: createCollectorOutput(spec.maxSeries),
    last: undefined as CollectorRun | undefined,
    failing: false,
  }));
  let round = 0;

  return {
    names: active.map((a) => a.spec.name),
    async collect() {
      const families: CollectedFamily[] = [];
      const duration: CollectedFamily = {
        name: 'node_scrape_collector_duration_seconds', type: 'gauge', help: 'node_exporter: Duration of a collector scrape.',
        labels: ['collector'], labelValues: [], values: [],
      };
      const success: CollectedFamily = {
        name: 'node_scrape_collector_success', type: 'gauge', help: 'node_exporter: Whether a collector succeeded.',
        labels: ['collector'], labelValues: [], values: [],
      };
      for (const a of active) {
        if (!a.last || round % a.spec.every === 0) {
          a.last = await execute(a.spec, a.collect, a.out);
          if (a.last.success === a.failing) {
            a.failing = !a.last.success;
            opts.onFailure?.(a.spec.name, a.last.error, a.last.absent);
          }
        }
        families.push(...a.last.families);
        duration.labelValues.push(a.spec.name);
        // Microseconds are all a dashboard reads; more digits are bytes on the wire every interval.
        duration.values.push(Math.round(a.last.seconds * 1e6) / 1e6);
        success.labelValues.push(a.spec.name);
        success.values.push(a.last.success ? 1 : 0);
      }
      round++;
      families.push(duration, success);
      return families;
    },
  };
}
