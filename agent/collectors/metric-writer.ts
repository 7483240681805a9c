/**
 * What a metrics collector writes into: families (name, type, help, label
 * names) and their series (label values, value), held as plain data until
 * the agent diffs them against what it sent (agent/metric-diff.ts).
 *
 * The writer enforces the wire's bounds (protocol/metrics.ts) at the
 * source, so a record the hub would refuse is never journaled: bad names and
 * label names are refused with an error, long label values and help are
 * cut, values that are not finite or out of range, negative counters,
 * repeated label sets and series past the collector's cap are dropped and
 * counted. The textfile collector relies on this for files people write.
 */
import { LABEL_NAME_PATTERN, MAX_METRIC_VALUE, METRIC_LIMITS, METRIC_NAME_PATTERN } from '../../protocol/plain.ts';
import type { MetricType } from '../../protocol/index.ts';

/** One family as collected. Series `i` has value `values[i]` and label values `labelValues[i * labels.length ...]`. */
export interface CollectedFamily {
  name: string;
  type: MetricType;
  help: string;
  labels: readonly string[];
  labelValues: string[];
  values: number[];
}

/** Adds one series: its value, then its label values in the order the family declared its labels. */
export type AddSeries = (value: number, ...labelValues: string[]) => void;

/** What collectors write into. */
export interface MetricWriter {
  counter(name: string, help: string, labels?: readonly string[]): AddSeries;
  gauge(name: string, help: string, labels?: readonly string[]): AddSeries;
  /** For textfile metrics without a TYPE line. */
  untyped(name: string, help: string, labels?: readonly string[]): AddSeries;
}

/** A writer for one run of one collector, and what it collected. */
export interface CollectorOutput extends MetricWriter {
  families(): CollectedFamily[];
  /** Series dropped (bad value, repeated labels, over the cap), and the first reason. */
  dropped(): { count: number; reason: string | undefined };
}

const NAME_RE = new RegExp(METRIC_NAME_PATTERN);
const LABEL_RE = new RegExp(LABEL_NAME_PATTERN);

/** A family of this name or these labels cannot go on the wire: a bug in a collector, or a bad textfile. */
export class MetricNameError extends Error {
  readonly code = 'MUSTER_ERR_METRIC_NAME';
}

/** Checks a family's name and label names against Prometheus' rules and the wire's caps; throws MetricNameError. */
export function checkFamilyNames(name: string, labels: readonly string[]): void {
  if (name.length > METRIC_LIMITS.name || !NAME_RE.test(name)) throw new MetricNameError(`not a metric name: ${JSON.stringify(name.slice(0, 64))}`);
  if (labels.length > METRIC_LIMITS.labels) throw new MetricNameError(`${name} has ${labels.length} labels, more than ${METRIC_LIMITS.labels}`);
  // Every family of every collector comes here every interval: a few labels, compared pairwise, allocate nothing.
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l.length > METRIC_LIMITS.labelName || !LABEL_RE.test(l) || l.startsWith('__') || l === 'instance') {
      throw new MetricNameError(`${name}: ${JSON.stringify(l.slice(0, 64))} cannot be a label name here`);
    }
    for (let j = 0; j < i; j++) if (labels[j] === l) throw new MetricNameError(`${name} has the label ${l} twice`);
  }
}

/** Cuts a label value or a help text to the wire's cap. */
function cut(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max);
}

/** Creates a writer that keeps at most `maxSeries` series. */
export function createCollectorOutput(maxSeries: number): CollectorOutput {
  const families = new Map<string, CollectedFamily>();
  /** The label sets of a family with two series or more, to drop repeats; kept apart so families() hands out the families as they are. */
  const keysOf = new Map<CollectedFamily, Set<string>>();
  let count = 0;
  let droppedCount = 0;
  let droppedReason: string | undefined;
  const drop = (reason: string) => {
    droppedCount++;
    droppedReason ??= reason;
  };

  function declare(type: MetricType, name: string, help: string, labels: readonly string[] = []): AddSeries {
    let fam = families.get(name);
    if (fam) {
      if (fam.type !== type || fam.labels.length !== labels.length || fam.labels.some((l, i) => l !== labels[i])) {
        throw new MetricNameError(`${name} declared twice with different types or labels`);
      }
    } else {
      checkFamilyNames(name, labels);
      fam = { name, type, help: cut(help, METRIC_LIMITS.help), labels: [...labels], labelValues: [], values: [] };
      families.set(name, fam);
    }
    const f = fam;
    const n = f.labels.length;
    return (value, ...labelValues) => {
      if (labelValues.length !== n) throw new MetricNameError(`${name} takes ${n} label values, got ${labelValues.length}`);
      if (!Number.isFinite(value) || Math.abs(value) > MAX_METRIC_VALUE) { drop(`${name}: ${value} is not a value the wire carries`); return; }
      if (type === 'counter' && value < 0) { drop(`${name}: a counter cannot be ${value}`); return; }
      if (count >= maxSeries) { drop(`more than ${maxSeries} series`); return; }
      if (n > 0) {
        // Repeated label sets are rare (textfiles); the key set is only built once a family has two series.
        if (f.values.length > 0) {
          let keys = keysOf.get(f);
          if (!keys) {
            keys = new Set();
            for (let i = 0; i < f.values.length; i++) keys.add(n === 1 ? f.labelValues[i]! : f.labelValues.slice(i * n, i * n + n).join('\u0000'));
            keysOf.set(f, keys);
          }
          // One label (most families: device, cpu, groupname) is its own key: no string built per series.
          const key = n === 1 ? labelValues[0]! : labelValues.join('\u0000');
          if (keys.has(key)) { drop(`${name}: the same labels twice`); return; }
          keys.add(key);
        }
        // Index loops on the per-series paths: V8's interpreter (the agent runs --lite-mode) allocates a result object per for-of step.
        for (let i = 0; i < n; i++) f.labelValues.push(cut(labelValues[i]!, METRIC_LIMITS.labelValue));
      }
      f.values.push(value);
      count++;
    };
  }

  return {
    counter: (name, help, labels) => declare('counter', name, help, labels),
    gauge: (name, help, labels) => declare('gauge', name, help, labels),
    untyped: (name, help, labels) => declare('untyped', name, help, labels),
    families: () => {
      const out: CollectedFamily[] = [];
      families.forEach((f) => { if (f.values.length > 0) out.push(f); });
      return out;
    },
    dropped: () => ({ count: droppedCount, reason: droppedReason }),
  };
}
