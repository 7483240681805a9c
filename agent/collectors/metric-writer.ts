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

/** A collector's writer, kept across its runs, and what the current run collected. */
export interface CollectorOutput extends MetricWriter {
  /** The families of this run that have series. The objects are the writer's: the next run reuses and refills them. */
  families(): CollectedFamily[];
  /** Series dropped (bad value, repeated labels, over the cap), and the first reason. */
  dropped(): { count: number; reason: string | undefined };
  /** Starts the next run. A family declared again as it was keeps its object, arrays and adder; one not declared in the run before is let go. */
  reset(): void;
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

/** Label sets this small are taken as parameters: a rest parameter is an array allocated per call on V8's interpreter. */
const FEW_LABELS = 4;

/** A declared family, its adder, and where the current run stands in it. */
interface Slot {
  fam: CollectedFamily;
  add: AddSeries;
  /** The run that last declared it. */
  run: number;
  /** Series written this run: the arrays past it hold the run before's, cut off by families(). */
  n: number;
  /** The label sets written this run, once the family has two series (to drop repeats). */
  keys: Set<string> | undefined;
}

/**
 * Creates a writer that keeps at most `maxSeries` series per run. A collector
 * keeps its writer (the registry does) and calls reset() before each run: in
 * the steady state, where a collector declares the same families every
 * interval, a run then allocates no family, array or adder, and the label
 * names are checked once. Series are written over the run before's in place.
 */
export function createCollectorOutput(maxSeries: number): CollectorOutput {
  const slots = new Map<string, Slot>();
  /** The families declared this run, in order. */
  let order: Slot[] = [];
  let run = 0;
  let count = 0;
  let droppedCount = 0;
  let droppedReason: string | undefined;
  const drop = (reason: string) => {
    droppedCount++;
    droppedReason ??= reason;
  };

  /** Checks a series' value, the cap, and (given its key: the family has labels and a series before it this run) that its label set is new. */
  function accept(slot: Slot, value: number, key: string | undefined): boolean {
    const f = slot.fam;
    if (!Number.isFinite(value) || Math.abs(value) > MAX_METRIC_VALUE) { drop(`${f.name}: ${value} is not a value the wire carries`); return false; }
    if (f.type === 'counter' && value < 0) { drop(`${f.name}: a counter cannot be ${value}`); return false; }
    if (count >= maxSeries) { drop(`more than ${maxSeries} series`); return false; }
    if (key !== undefined) {
      // Repeated label sets are rare (textfiles); the key set is only built once a family has two series.
      let keys = slot.keys;
      if (!keys) {
        const width = f.labels.length;
        keys = new Set();
        for (let i = 0; i < slot.n; i++) keys.add(width === 1 ? f.labelValues[i]! : f.labelValues.slice(i * width, i * width + width).join('\u0000'));
        slot.keys = keys;
      }
      if (keys.has(key)) { drop(`${f.name}: the same labels twice`); return false; }
      keys.add(key);
    }
    return true;
  }

  /** Writes value and labels at the slot's next place: over the run before's where there is one (no allocation), else appended. */
  function place(slot: Slot, value: number): number {
    const i = slot.n++;
    count++;
    const values = slot.fam.values;
    if (i < values.length) values[i] = value;
    else values.push(value);
    return i;
  }

  function setLabel(lv: string[], at: number, value: string): void {
    const v = cut(value, METRIC_LIMITS.labelValue);
    if (at < lv.length) lv[at] = v;
    else lv.push(v);
  }

  function makeSlot(type: MetricType, name: string, help: string, labels: readonly string[]): Slot {
    checkFamilyNames(name, labels);
    const fam: CollectedFamily = { name, type, help: cut(help, METRIC_LIMITS.help), labels: [...labels], labelValues: [], values: [] };
    const width = labels.length;
    const slot: Slot = { fam, add: undefined as unknown as AddSeries, run, n: 0, keys: undefined };
    const arity = (got: number) => new MetricNameError(`${name} takes ${width} label values, got ${got}`);
    if (width === 0) {
      slot.add = ((value: number, extra?: string) => {
        if (extra !== undefined) throw arity(1);
        if (accept(slot, value, undefined)) place(slot, value);
      }) as AddSeries;
    } else if (width <= FEW_LABELS) {
      // Parameters, not a rest array: label values past the width must be absent, those within it present.
      slot.add = ((value: number, l0?: string, l1?: string, l2?: string, l3?: string, l4?: string) => {
        const given = l4 !== undefined ? 5 : l3 !== undefined ? 4 : l2 !== undefined ? 3 : l1 !== undefined ? 2 : l0 !== undefined ? 1 : 0;
        if (given !== width) throw arity(given);
        // One label (most families: device, cpu, groupname) is its own key; the first series of a run needs none.
        const key = slot.n === 0 ? undefined : width === 1 ? l0! : width === 2 ? `${l0!}\u0000${l1!}` : width === 3 ? `${l0!}\u0000${l1!}\u0000${l2!}` : `${l0!}\u0000${l1!}\u0000${l2!}\u0000${l3!}`;
        if (!accept(slot, value, key)) return;
        const base = place(slot, value) * width;
        const lv = fam.labelValues;
        setLabel(lv, base, l0!);
        if (width > 1) setLabel(lv, base + 1, l1!);
        if (width > 2) setLabel(lv, base + 2, l2!);
        if (width > 3) setLabel(lv, base + 3, l3!);
      }) as AddSeries;
    } else {
      slot.add = (value: number, ...labelValues: string[]) => {
        if (labelValues.length !== width) throw arity(labelValues.length);
        if (!accept(slot, value, slot.n === 0 ? undefined : labelValues.join('\u0000'))) return;
        const base = place(slot, value) * width;
        // Index loops on the per-series paths: V8's interpreter (the agent runs --lite-mode) allocates a result object per for-of step.
        for (let j = 0; j < width; j++) setLabel(fam.labelValues, base + j, labelValues[j]!);
      };
    }
    return slot;
  }

  function declare(type: MetricType, name: string, help: string, labels: readonly string[] = []): AddSeries {
    let slot = slots.get(name);
    if (slot && slot.run === run) {
      // Declared before in this run (a collector that declares per device): the same declaration, the same adder.
      const f = slot.fam;
      if (f.type !== type || !sameNames(f.labels, labels)) throw new MetricNameError(`${name} declared twice with different types or labels`);
      return slot.add;
    }
    if (slot && slot.fam.type === type && sameNames(slot.fam.labels, labels)) {
      // Declared as in the run before: its object, arrays and adder serve again; its help may have changed (a textfile).
      if (slot.fam.help !== help) slot.fam.help = cut(help, METRIC_LIMITS.help);
      slot.run = run;
      slot.n = 0;
      slot.keys = undefined;
    } else {
      slot = makeSlot(type, name, help, labels);
      slots.set(name, slot);
    }
    order.push(slot);
    return slot.add;
  }

  return {
    counter: (name, help, labels) => declare('counter', name, help, labels),
    gauge: (name, help, labels) => declare('gauge', name, help, labels),
    untyped: (name, help, labels) => declare('untyped', name, help, labels),
    families: () => {
      const out: CollectedFamily[] = [];
      for (let k = 0; k < order.length; k++) {
        const slot = order[k]!;
        const f = slot.fam;
        // Cut off what the run before wrote past this run's series (shrinking an array in place allocates nothing).
        if (f.values.length !== slot.n) f.values.length = slot.n;
        const width = slot.n * f.labels.length;
        if (f.labelValues.length !== width) f.labelValues.length = width;
        if (slot.n > 0) out.push(f);
      }
      return out;
    },
    dropped: () => ({ count: droppedCount, reason: droppedReason }),
    reset: () => {
      // Families the run just ended did not declare are let go: a textfile's renamed metric does not stay forever.
      slots.forEach((slot, name) => { if (slot.run !== run) slots.delete(name); });
      run++;
      order = [];
      count = 0;
      droppedCount = 0;
      droppedReason = undefined;
    },
  };
}

/** True when two lists of names (a family's labels) are the same, in the same order. */
export function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
