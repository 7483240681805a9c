/**
 * The metric families each agent ships generically (protocol/metrics.ts),
 * kept in memory and rendered under the node's `instance` label. Nothing is
 * stored on disk: after a hub restart every agent reconnects and sends a
 * snapshot, which is the whole state again.
 *
 * The schema bounds every name, count and number of a `metrics` frame; what
 * it cannot say is checked here, record by record: a family's labels
 * (unique, not `instance`, not `__*`), the lengths of its columns, counters
 * that go negative, ids that are unknown or taken, names the hub renders for
 * the fleet itself. What fails is skipped and counted, never thrown: the
 * record is journaled on the agent, and refusing the frame would have it
 * sent again forever.
 *
 * A node's series are held column-wise per family (ids, rendered label text,
 * values) with one id -> place map, about 100 bytes a series: 2,000 series
 * (a node at node_exporter parity) is ~200 KiB.
 */
import { METRIC_LIMITS, type FamilyBlock, type MetricType, type MetricsMessage } from '../../protocol/index.ts';
import { escapeHelp, escapeLabel, type FamilySink } from './exposition.ts';

/** What became of one record. */
export interface ApplyOutcome {
  /** False when the record belonged to another generation and was ignored as a whole. */
  applied: boolean;
  /** Families, series, values or removals skipped, and the first reason. */
  rejected: number;
  reason?: string;
}

/** Options for {@link createAgentFamilies}. */
export interface AgentFamiliesOptions {
  /**
   * Names the hub writes once for the whole fleet (its own metrics, fleet
   * totals): a node's family of such a name would be a second TYPE line for
   * it, and Prometheus refuses such a scrape. Default: `muster_*`,
   * `process_*`, `nodejs_*`.
   */
  reserved?: (name: string) => boolean;
  /** Series a node may hold (default METRIC_LIMITS.series). */
  maxSeries?: number;
}

/** The agents' generic families, by node id. */
export interface AgentFamilies {
  /** Applies one `metrics` record of a node. */
  apply(nodeId: number, msg: MetricsMessage): ApplyOutcome;
  /** Whether the node has sent a snapshot (its host series then come from it, not from samples). */
  has(nodeId: number): boolean;
  /** Moves whenever the node's families change: a key for caching their rendering. */
  version(nodeId: number): number;
  /** The names of the node's families that have series. */
  names(nodeId: number): ReadonlySet<string>;
  /** Writes the node's families; `instance` is the rendered `instance="..."` label. */
  write(nodeId: number, instance: string, out: FamilySink): void;
  /** Parts of the node's records skipped since the hub started (see ApplyOutcome). */
  rejected(nodeId: number): number;
  /** Series held for the node. */
  seriesCount(nodeId: number): number;
  forget(nodeId: number): void;
}

interface Family {
  name: string;
  type: MetricType;
  help: string;
  labels: string[];
  ids: number[];
  /** Rendered label pairs of each series, without `instance` (`device="sda"`). */
  texts: string[];
  values: number[];
}

interface NodeState {
  gen: number;
  version: number;
  families: (Family | undefined)[];
  byName: Map<string, number>;
  /** Series id -> its family's number * 2^16 + its index there. */
  place: Map<number, number>;
  rejected: number;
  names: Set<string> | undefined;
}

/** Places pack a family number and an index into one small integer. */
const SHIFT = 2 ** 16;
const DEFAULT_RESERVED = (name: string) => name.startsWith('muster_') || name.startsWith('process_') || name.startsWith('nodejs_');
const NO_NAMES: ReadonlySet<string> = new Set();

/** Creates an empty store (one per hub: no module-level state). */
export function createAgentFamilies(opts: AgentFamiliesOptions = {}): AgentFamilies {
  const reserved = opts.reserved ?? DEFAULT_RESERVED;
  const maxSeries = Math.min(opts.maxSeries ?? METRIC_LIMITS.series, SHIFT - 1);
  const nodes = new Map<number, NodeState>();

  function declare(st: NodeState, b: FamilyBlock): string | undefined {
    const name = b.name!;
    if (b.f >= METRIC_LIMITS.families) return 'family number out of range';
    const have = st.families[b.f];
    if (have) return have.name === name ? undefined : `family ${b.f} declared twice`;
    if (reserved(name)) return `${name} is a name the hub writes itself`;
    if (st.byName.has(name)) return `${name} declared twice`;
    const labels = b.labels ?? [];
    const seen = new Set<string>();
    for (const l of labels) {
      if (l === 'instance' || l.startsWith('__')) return `${name} has the label ${l}, which is the hub's or Prometheus'`;
      if (seen.has(l)) return `${name} has the label ${l} twice`;
      seen.add(l);
    }
    st.families[b.f] = { name, type: b.type ?? 'untyped', help: escapeHelp(b.help ?? ''), labels, ids: [], texts: [], values: [] };
    st.byName.set(name, b.f);
    return undefined;
  }

  function addSeries(st: NodeState, f: number, fam: Family, b: FamilyBlock, out: ApplyOutcome): void {
    const n = fam.labels.length;
    if (b.v.length !== b.ids.length || b.lv.length !== b.ids.length * n) {
      reject(out, b.ids.length || 1, `${fam.name}: ${b.ids.length} ids, ${b.v.length} values and ${b.lv.length} label values do not line up`);
      return;
    }
    for (let i = 0; i < b.ids.length; i++) {
      const id = b.ids[i]!;
      const v = b.v[i]!;
      if (st.place.has(id)) { reject(out, 1, `series id ${id} is taken`); continue; }
      if (fam.type === 'counter' && v < 0) { reject(out, 1, `${fam.name} is a counter and cannot be ${v}`); continue; }
      if (st.place.size >= maxSeries) { reject(out, 1, `more than ${maxSeries} series`); continue; }
      let text = '';
      for (let j = 0; j < n; j++) text += `${j ? ',' : ''}${fam.labels[j]}="${escapeLabel(b.lv[i * n + j]!)}"`;
      st.place.set(id, f * SHIFT + fam.ids.length);
      fam.ids.push(id);
      fam.texts.push(text);
      fam.values.push(v);
    }
  }

  function remove(st: NodeState, id: number): boolean {
    const at = st.place.get(id);
    if (at === undefined) return false;
    st.place.delete(id);
    const fam = st.families[Math.floor(at / SHIFT)]!;
    const i = at % SHIFT;
    const last = fam.ids.length - 1;
    if (i !== last) {
      // Swap-remove: the last series takes the hole, and its place moves with it.
      fam.ids[i] = fam.ids[last]!;
      fam.texts[i] = fam.texts[last]!;
      fam.values[i] = fam.values[last]!;
      st.place.set(fam.ids[i]!, Math.floor(at / SHIFT) * SHIFT + i);
    }
    fam.ids.pop();
    fam.texts.pop();
    fam.values.pop();
    return true;
  }

  function reject(out: ApplyOutcome, count: number, reason: string): void {
    out.rejected += count;
    out.reason ??= reason;
  }

  return {
    apply(nodeId, msg) {
      let st = nodes.get(nodeId);
      if (msg.reset) {
        st = { gen: msg.gen, version: (st?.version ?? 0) + 1, families: [], byName: new Map(), place: new Map(), rejected: st?.rejected ?? 0, names: undefined };
        nodes.set(nodeId, st);
      } else if (!st || st.gen !== msg.gen) {
        return { applied: false, rejected: 0 };
      }
      const out: ApplyOutcome = { applied: true, rejected: 0 };
      for (const b of msg.fams ?? []) {
        if (b.name !== undefined) {
          const why = declare(st, b);
          if (why) { reject(out, 1 + b.ids.length, why); continue; }
        }
        const fam = st.families[b.f];
        if (!fam) { reject(out, 1 + b.ids.length, `family ${b.f} was never declared`); continue; }
        addSeries(st, b.f, fam, b, out);
      }
      for (const run of msg.set ?? []) {
        const first = run[0];
        if (first === undefined || !Number.isInteger(first) || first < 0) { reject(out, run.length, 'a run of values without a series id'); continue; }
        for (let j = 1; j < run.length; j++) {
          const at = st.place.get(first + j - 1);
          if (at === undefined) { reject(out, 1, `series id ${first + j - 1} is unknown`); continue; }
          const fam = st.families[Math.floor(at / SHIFT)]!;
          const v = run[j]!;
          if (fam.type === 'counter' && v < 0) { reject(out, 1, `${fam.name} is a counter and cannot be ${v}`); continue; }
          fam.values[at % SHIFT] = v;
        }
      }
      for (const id of msg.del ?? []) if (!remove(st, id)) reject(out, 1, `series id ${id} is unknown`);
      st.version++;
      st.names = undefined;
      st.rejected += out.rejected;
      return out;
    },
    has: (nodeId) => nodes.has(nodeId),
    version: (nodeId) => nodes.get(nodeId)?.version ?? 0,
    names(nodeId) {
      const st = nodes.get(nodeId);
      if (!st) return NO_NAMES;
      if (!st.names) {
        st.names = new Set();
        for (const fam of st.families) if (fam && fam.ids.length) st.names.add(fam.name);
      }
      return st.names;
    },
    write(nodeId, instance, out) {
      const st = nodes.get(nodeId);
      if (!st) return;
      for (const fam of st.families) {
        if (!fam || fam.ids.length === 0) continue;
        const w = out.family(fam.name, fam.type, fam.help);
        const withLabels = `${instance},`;
        for (let i = 0; i < fam.ids.length; i++) {
          const text = fam.texts[i]!;
          w.line(text ? withLabels + text : instance, fam.values[i]!);
        }
      }
    },
    rejected: (nodeId) => nodes.get(nodeId)?.rejected ?? 0,
    seriesCount: (nodeId) => nodes.get(nodeId)?.place.size ?? 0,
    forget(nodeId) {
      nodes.delete(nodeId);
    },
  };
}
