/**
 * The plain part of the wire contract: numbers, patterns and small helpers
 * that need no schema. The agent imports these (and types) only, never the
 * TypeBox schemas: building them and compiling a validator at start cost a
 * node ~2-3 MiB of memory (bench/README.md). The schema modules re-export
 * what is here, so the hub imports them where it always did.
 */
import type { DeployAction } from './deploys.ts';

/** 2200-01-01T00:00:00Z in ms: later than any clock a node can honestly have. */
export const MAX_EPOCH_MS = 7_258_118_400_000;
/** The same instant in seconds since the epoch. */
export const MAX_EPOCH_S = MAX_EPOCH_MS / 1000;
/** Largest sequence number: integers stay exact in a double up to here. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;
/** Kernel counters are unsigned 64-bit: bytes, packets, jiffies never exceed this. */
export const MAX_COUNTER = 2 ** 64;
/** Linux's PID_MAX_LIMIT. */
export const MAX_PID = 4_194_304;

/** Longest command line the agent sends; longer ones are cut and end in '…'. */
export const MAX_CMDLINE = 2048;

/** The key a listening socket is known by: `tcp 0.0.0.0:80`. */
export function portKey(p: { protocol: string; address: string; port: number }): string {
  return `${p.protocol} ${p.address}:${p.port}`;
}

/** Prometheus' rule for a metric name. */
export const METRIC_NAME_PATTERN = '^[a-zA-Z_:][a-zA-Z0-9_:]*$';
/** Prometheus' rule for a label name (names starting `__` are refused by the hub: they are Prometheus' own). */
export const LABEL_NAME_PATTERN = '^[a-zA-Z_][a-zA-Z0-9_]*$';

/** Caps of the generic metrics, shared by the agent (which cuts) and the hub (which refuses). */
export const METRIC_LIMITS = Object.freeze({
  /** Longest metric name. */
  name: 200,
  /** Longest label name. */
  labelName: 100,
  /** Longest label value; longer ones are cut by the agent. */
  labelValue: 1024,
  /** Longest HELP text. */
  help: 1024,
  /** Labels per family, `instance` (the hub's) not counted. */
  labels: 32,
  /** Families a node may have in one generation. */
  families: 4096,
  /** Series a node may have at once: ten times node_exporter's on a busy host. */
  series: 50_000,
  /** Series ids stay below this; the agent starts a new generation before they reach it. */
  seriesId: 2 ** 31 - 1,
  /** Values in one record (new series, changed values and removals): keeps a record well under the frame limit. */
  perRecord: 20_000,
});

/** The largest magnitude of a value: a 64-bit kernel counter's, as for every other number on the link. */
export const MAX_METRIC_VALUE = MAX_COUNTER;

/** Caps of log batches, shared by the agent (which cuts and splits) and the hub (which refuses). */
export const LOG_LIMITS = Object.freeze({
  /** Longest line the hub takes; the agent cuts at its own, smaller limit (`--logs-max-line`, default 16 KiB). */
  line: 64 * 1024,
  /** Lines in one batch. */
  lines: 5_000,
  /** Sources in one batch. */
  sources: 256,
});

/** What the agent appends to a line it cut. */
export const CUT_MARKER = ' …[cut]';

/** A deploy action in a few words (`run web from nginx:1.27`), for job output, logs and the CLI. */
export function describeAction(a: DeployAction): string {
  switch (a.kind) {
    case 'run': return `run ${a.container.name} from ${a.container.image}`;
    case 'replace': return `replace ${a.container.name} with ${a.container.image}`;
    case 'container': return `${a.action} container ${a.name}`;
    case 'unit': return `${a.action} unit ${a.unit}`;
  }
}
