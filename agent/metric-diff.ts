/**
 * Turns the families the collectors give every interval into `metrics`
 * records (protocol/metrics.ts): a snapshot that starts a generation, then
 * deltas of only what changed since the record before. Every record goes to
 * the journal and reaches the hub in order, and a snapshot follows any link
 * that was lost, so "since the record before" is "since what the hub has":
 * a delta lost with a link is covered by the snapshot after the reconnect.
 *
 * Records stay small: a family's name, help and labels go once per
 * generation, a series' label values once, after that a value is its id's
 * place in a run of consecutive ids (`[firstId, v, v, ...]`). Series get
 * ids in the order collectors write them, so the counters of one family,
 * which change together, form one run.
 */
import { METRIC_LIMITS } from '../protocol/plain.ts';
import type { FamilyBlock, MetricsMessage, MetricType } from '../protocol/index.ts';
import { sameNames, type CollectedFamily } from './collectors/metric-writer.ts';

/** A metrics record before the journal numbers it. */
export type UnsequencedMetrics = Omit<MetricsMessage, 'seq'>;

/** Options for {@link createMetricDiff}. */
export interface MetricDiffOptions {
  /** For generation numbers; tests fix it. */
  random?: () => number;
  /** Cut a record once it carries about this many bytes of JSON (default 256 KiB, a quarter of the frame limit). */
  maxRecordBytes?: number;
  /** ... or this many new series, values and removals (default METRIC_LIMITS.perRecord). */
  maxRecordItems?: number;
}

/** The diff's state: what the hub holds once every record so far has arrived. */
export interface MetricDiff {
  /** Records of a full snapshot in a new generation. */
  snapshot(families: readonly CollectedFamily[], ts: number): UnsequencedMetrics[];
  /** Records of what changed since the last record; none when nothing did. */
  delta(families: readonly CollectedFamily[], ts: number): UnsequencedMetrics[];
  /** Series the hub holds after the records so far. */
  size(): number;
}

/** A series the hub holds: its id, the last value sent, the last diff that saw it, and its label values. */
interface SentSeries {
  id: number;
  v: number;
  seen: number;
  /** Its key in SentFamily.series; for one label, the label value. */
  key: string;
  /** Its label values, for two labels or more. */
  lv: readonly string[] | undefined;
}

interface SentFamily {
  f: number;
  type: MetricType;
  help: string;
  labels: readonly string[];
  /** Series by label values joined with NUL. */
  series: Map<string, SentSeries>;
  /**
   * The series at each place of the family in the last diff. Collectors write
   * a family's series in the same order every interval, so a series is found
   * at its place by comparing its label values: no key built, no map lookup.
   */
  at: (SentSeries | undefined)[];
  /** The last diff that saw the family. */
  round: number;
}

/** Starts a new generation before ids could pass the wire's bound. */
const ID_REFRESH = 2 ** 30;

/** Creates an empty diff: its first records are a snapshot. */
export function createMetricDiff(opts: MetricDiffOptions = {}): MetricDiff {
  const random = opts.random ?? Math.random;
  const maxBytes = opts.maxRecordBytes ?? 256 * 1024;
  const maxItems = Math.min(opts.maxRecordItems ?? METRIC_LIMITS.perRecord, METRIC_LIMITS.perRecord);
  let gen = -1;
  let nextF = 0;
  let nextId = 0;
  let sent = new Map<string, SentFamily>();
  let count = 0;
  /** Counts diffs: a series not stamped with this one's number is gone (a stamp, not a set of keys per family per interval). */
  let round = 0;

  /** Builds records, cutting to a new one when the current one is full. */
  function recorder(ts: number, reset: boolean) {
    const records: UnsequencedMetrics[] = [];
    let rec: UnsequencedMetrics | undefined;
    let bytes = 0;
    let items = 0;
    let block: FamilyBlock | undefined;
    let runs: number[][] = [];
    let run: number[] | undefined;
    let dels: number[] = [];
    const start = () => {
      rec = { type: 'metrics', ts, gen, ...(reset && records.length === 0 ? { reset: true as const } : {}) };
      records.push(rec);
      bytes = 100;
      items = 0;
      block = undefined;
      runs = [];
      run = undefined;
      dels = [];
    };
    const room = (b: number) => {
      if (!rec || items + 1 > maxItems || (bytes + b > maxBytes && items > 0)) start();
      bytes += b;
      items++;
    };
    return {
      records,
      /** A new series of family `fam` (declared in full the first time it appears in a record). */
      add(fam: SentFamily, name: string, id: number, lv: string[], v: number) {
        let b = 16 + String(v).length;
        for (const s of lv) b += jsonBytes(s) + 1;
        room(b);
        if (!block || block.f !== fam.f) {
          block = rec!.fams?.find((x) => x.f === fam.f);
          if (!block) {
            block = { f: fam.f, ids: [], lv: [], v: [] };
            // The declaration goes with the first block of the family in the generation, in whichever record that is.
            if (!declared.has(fam.f)) {
              Object.assign(block, { name, type: fam.type, help: fam.help, labels: [...fam.labels] });
              declared.add(fam.f);
              bytes += name.length + jsonBytes(fam.help) + 40;
            }
            (rec!.fams ??= []).push(block);
          }
        }
        block.ids.push(id);
        for (const s of lv) block.lv.push(s);
        block.v.push(v);
      },
      set(id: number, v: number) {
        room(String(v).length + 1);
        if (run && rec!.set === runs && run[0]! + run.length - 1 === id) {
          run.push(v);
          return;
        }
        bytes += String(id).length + 3;
        run = [id, v];
        runs.push(run);
        rec!.set = runs;
      },
      del(id: number) {
        room(String(id).length + 1);
        if (rec!.del !== dels) rec!.del = dels;
        dels.push(id);
      },
    };
  }
  let declared = new Set<number>();

  function diff(families: readonly CollectedFamily[], ts: number, full: boolean): UnsequencedMetrics[] {
    if (!full) {
      // A family whose type, help or labels changed (an edited textfile) cannot be redeclared in a generation.
      // Index loops and forEach here: V8's interpreter (the agent runs --lite-mode) allocates a result object per for-of step.
      for (let k = 0; k < families.length; k++) {
        const fam = families[k]!;
        const was = sent.get(fam.name);
        if (was && (was.type !== fam.type || was.help !== fam.help || !sameNames(was.labels, fam.labels))) return diff(families, ts, true);
      }
      if (nextId > ID_REFRESH) return diff(families, ts, true);
    }
    if (full) {
      gen = Math.floor(random() * Number.MAX_SAFE_INTEGER);
      nextF = 0;
      nextId = 0;
      sent = new Map();
      declared = new Set();
      count = 0;
    }
    const r = recorder(ts, full);
    const stamp = ++round;
    for (let k = 0; k < families.length; k++) {
      const fam = families[k]!;
      let s = sent.get(fam.name);
      if (s?.round === stamp) continue; // collectors' outputs are merged; the first of a name wins
      if (!s) {
        if (nextF >= METRIC_LIMITS.families) continue;
        s = { f: nextF++, type: fam.type, help: fam.help, labels: fam.labels, series: new Map(), at: [], round: 0 };
        sent.set(fam.name, s);
      }
      s.round = stamp;
      const n = fam.labels.length;
      let live = 0;
      const all = fam.labelValues;
      const at = s.at;
      const total = fam.values.length;
      for (let i = 0; i < total; i++) {
        const v = fam.values[i]!;
        let have = at[i];
        if (have !== undefined && !sameSeries(have, all, i * n, n)) have = undefined;
        let key = '';
        if (have === undefined) {
          key = n === 0 ? '' : n === 1 ? all[i]! : all.slice(i * n, i * n + n).join('\u0000');
          have = s.series.get(key);
        }
        if (have) {
          // A label set repeated in one family (the writer drops them) counts once.
          if (have.seen !== stamp) live++;
          have.seen = stamp;
          if (have.v !== v) {
            have.v = v;
            r.set(have.id, v);
          }
        } else if (count < METRIC_LIMITS.series) {
          const id = nextId++;
          const lv = all.slice(i * n, i * n + n);
          have = { id, v, seen: stamp, key, lv: n > 1 ? lv : undefined };
          s.series.set(key, have);
          live++;
          count++;
          r.add(s, fam.name, id, lv, v);
        }
        at[i] = have;
      }
      if (at.length > total) at.length = total;
      if (live < s.series.size) {
        for (const [key, x] of s.series) {
          if (x.seen === stamp) continue;
          s.series.delete(key);
          count--;
          r.del(x.id);
        }
      }
    }
    // Families gone altogether (a disk unplugged, a textfile removed).
    sent.forEach((s) => {
      if (s.round === stamp || s.series.size === 0) return;
      for (const x of s.series.values()) {
        r.del(x.id);
        count--;
      }
      s.series.clear();
      s.at.length = 0;
    });
    if (full && r.records.length === 0) return [{ type: 'metrics', ts, gen, reset: true }];
    return r.records;
  }

  return {
    snapshot: (families, ts) => diff(families, ts, true),
    delta: (families, ts) => (gen < 0 ? diff(families, ts, true) : diff(families, ts, false)),
    size: () => count,
  };
}

/** Printable ASCII that JSON carries as it is. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** Bytes a string takes in a JSON text: exact for the unusual ones (escapes, non-ASCII), so a record never outgrows a frame. */
function jsonBytes(s: string): number {
  return PLAIN.test(s) ? s.length + 2 : Buffer.byteLength(JSON.stringify(s));
}

/** True when the series `have` has the label values at `base` of `all` (a family with `n` labels). */
function sameSeries(have: SentSeries, all: readonly string[], base: number, n: number): boolean {
  if (n === 0) return true;
  if (n === 1) return have.key === all[base];
  const lv = have.lv!;
  for (let j = 0; j < n; j++) if (lv[j] !== all[base + j]) return false;
  return true;
}
