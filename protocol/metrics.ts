/**
 * Metric families an agent collected, shipped generically (protocol 3): a
 * collector that writes node_exporter's families (or cAdvisor's, or
 * process-exporter's) needs no change here or on the hub, which renders
 * whatever arrives under the node's `instance` label.
 *
 * A `metrics` record is a snapshot part or a delta of one *generation*:
 *
 * - Families and series get small numbers (`f`, series ids) the first time
 *   they are sent in a generation; later records name them by number only.
 * - A record with `reset` starts a generation: the hub forgets everything the
 *   node sent before and takes this record's families as the whole state.
 *   The agent sends one after every connect and resume; a snapshot too large
 *   for one record continues in records of the same `gen` without `reset`.
 * - Other records are deltas against the record before them: `fams` declares
 *   new families and adds new series, `set` gives new values of series that
 *   changed (runs of consecutive ids), `del` drops series that are gone.
 *   Values are absolute, never increments: a delta applied twice, or one
 *   lost before a snapshot, leaves nothing wrong behind.
 * - A record whose `gen` is not the hub's current one for the node is
 *   ignored: its snapshot was lost, and a new snapshot is on its way.
 *
 * Records go through the agent's journal (sequence numbers, acks, replay),
 * but only while a link is up: the hub keeps no history of these values, so
 * what changes during an outage is not journaled, and the snapshot after the
 * reconnect carries the state.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Count, EpochMs, List, Seq, Str } from './bounds.ts';
import { LABEL_NAME_PATTERN, MAX_METRIC_VALUE, METRIC_LIMITS, METRIC_NAME_PATTERN } from './plain.ts';

export { LABEL_NAME_PATTERN, MAX_METRIC_VALUE, METRIC_LIMITS, METRIC_NAME_PATTERN };

/** A sample value: finite and bounded (NaN and infinities have no JSON form; the agent drops such series). */
const Value = () => Type.Number({ minimum: -MAX_METRIC_VALUE, maximum: MAX_METRIC_VALUE });
/** A series id within a generation. */
const SeriesId = () => Count(METRIC_LIMITS.seriesId);

/** Prometheus' metric types the hub renders. Histograms and summaries travel as their `_bucket`/`_sum`/`_count` families. */
export const MetricType = Type.Union([Type.Literal('counter'), Type.Literal('gauge'), Type.Literal('untyped')]);

/**
 * One family in a record: declared (name, type, help, labels) the first time
 * it is sent in a generation, then named by `f` alone; with the series it
 * gains in this record. Series `i` has id `ids[i]`, value `v[i]` and label
 * values `lv[i * labels.length ...]` (row by row, in the order of `labels`).
 */
export const FamilyBlock = Type.Object({
  f: Count(METRIC_LIMITS.families),
  name: Type.Optional(Type.String({ maxLength: METRIC_LIMITS.name, pattern: METRIC_NAME_PATTERN })),
  type: Type.Optional(MetricType),
  help: Type.Optional(Str(METRIC_LIMITS.help)),
  labels: Type.Optional(List(Type.String({ maxLength: METRIC_LIMITS.labelName, pattern: LABEL_NAME_PATTERN }), METRIC_LIMITS.labels)),
  ids: List(SeriesId(), METRIC_LIMITS.perRecord),
  lv: List(Str(METRIC_LIMITS.labelValue), METRIC_LIMITS.perRecord * 4),
  v: List(Value(), METRIC_LIMITS.perRecord),
});

/** New values of consecutive series: `[firstId, value of firstId, value of firstId + 1, ...]`. */
export const ValueRun = List(Value(), METRIC_LIMITS.perRecord + 1);

/** A snapshot part or a delta of a node's metric families (see the module comment). */
export const MetricsMessage = Type.Object({
  type: Type.Literal('metrics'),
  /** Its place in the agent's sequence (shared with samples and workloads deltas). */
  seq: Seq(),
  ts: EpochMs(),
  /** The generation the ids belong to; a fresh random number per snapshot. */
  gen: Count(),
  /** Present on a snapshot's first record: forget what came before. */
  reset: Type.Optional(Type.Literal(true)),
  fams: Type.Optional(List(FamilyBlock, METRIC_LIMITS.families)),
  set: Type.Optional(List(ValueRun, METRIC_LIMITS.perRecord)),
  del: Type.Optional(List(SeriesId(), METRIC_LIMITS.perRecord)),
});

export type MetricType = Static<typeof MetricType>;
export type FamilyBlock = Static<typeof FamilyBlock>;
export type MetricsMessage = Static<typeof MetricsMessage>;
