/**
 * A node's use by the hour, over spans longer than the raw samples are kept.
 * Raw samples live 48 h; hub/maintenance.ts then rolls them into
 * `sample_hours` (store.rollup). A reader asking for "the last 7 days by
 * hour" should not have to know where that line is, so this module joins
 * the stored hourly rows with hours summarised on the fly from the raw
 * samples not rolled up yet, into one continuous series.
 *
 * Reads only: the rollup that writes `sample_hours` stays in hub/store.ts.
 * It takes the database itself (not the Store) so that it can prepare its own
 * statements, as the job and workload stores do.
 */
import type Database from 'better-sqlite3';

const HOUR = 3_600_000;

/** One hour of a node's use: CPU as a fraction of the whole node (0..1), memory in bytes; null when no sample of the hour had the figure. */
export interface HourPoint {
  /** Start of the hour, ms since the epoch. */
  hour: number;
  /** Samples the hour was summarised from. */
  n: number;
  cpuAvg: number | null;
  cpuP95: number | null;
  cpuMax: number | null;
  memAvg: number | null;
  memP95: number | null;
  memMax: number | null;
}

/** Reads a node's hourly history. */
export interface SampleHistory {
  /**
   * Every hour of a node that has samples and starts at or after the hour
   * holding `since` (ms), oldest first: rolled-up hours and raw ones alike.
   * The current hour is included with the samples it has so far.
   */
  hourly(nodeId: number, since: number): HourPoint[];
}

/**
 * Average, p95 (nearest rank) and max of the first `len` values of `buf`,
 * sorted in place. The same arithmetic as store.rollup's (ascending order,
 * summed in that order), so an hour reads the same before and after it is
 * rolled up.
 */
function summarizeInto(buf: Float64Array, len: number): [avg: number | null, p95: number | null, max: number | null] {
  if (len === 0) return [null, null, null];
  const v = buf.subarray(0, len).sort();
  let sum = 0;
  for (let i = 0; i < len; i++) sum += v[i]!;
  return [sum / len, v[Math.max(0, Math.min(len - 1, Math.ceil(0.95 * len) - 1))]!, v[len - 1]!];
}

/** A raw use point, as store.usePoints returns it. */
interface RawPoint { ts: number; cpuUsed: number | null; memUsed: number | null }

/**
 * Groups raw use points by the hour and summarises each hour, oldest first.
 * Placement reads two days of raw samples per node for every request, so
 * this walks them once in time order into reused typed arrays instead of
 * building a list per hour.
 */
export function hoursOf(points: readonly RawPoint[]): HourPoint[] {
  let pts = points;
  for (let i = 1; i < pts.length; i++) {
    if (pts[i]!.ts < pts[i - 1]!.ts) { pts = [...points].sort((a, b) => a.ts - b.ts); break; }
  }
  const out: HourPoint[] = [];
  const cpu = new Float64Array(pts.length);
  const mem = new Float64Array(pts.length);
  let i = 0;
  while (i < pts.length) {
    const hour = Math.floor(pts[i]!.ts / HOUR) * HOUR;
    let n = 0, nc = 0, nm = 0;
    for (; i < pts.length && pts[i]!.ts < hour + HOUR; i++, n++) {
      const p = pts[i]!;
      if (p.cpuUsed !== null) cpu[nc++] = p.cpuUsed;
      if (p.memUsed !== null) mem[nm++] = p.memUsed;
    }
    const [cpuAvg, cpuP95, cpuMax] = summarizeInto(cpu, nc);
    const [memAvg, memP95, memMax] = summarizeInto(mem, nm);
    out.push({ hour, n, cpuAvg, cpuP95, cpuMax, memAvg, memP95, memMax });
  }
  return out;
}

const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
const weighted = (a: number | null, na: number, b: number | null, nb: number) =>
  (a === null ? b : b === null ? a : (a * na + b * nb) / (na + nb));

/**
 * One hour both stored and raw: samples that arrived late (an agent's outbox
 * replayed after its hour was rolled up) wait raw until the next rollup.
 * The p95 of the union is not recoverable from the two summaries; the larger
 * one is an upper bound, and the rollup's upsert makes the same choice.
 */
function merge(a: HourPoint, b: HourPoint): HourPoint {
  return {
    hour: a.hour,
    n: a.n + b.n,
    cpuAvg: weighted(a.cpuAvg, a.n, b.cpuAvg, b.n),
    cpuP95: maxOf(a.cpuP95, b.cpuP95),
    cpuMax: maxOf(a.cpuMax, b.cpuMax),
    memAvg: weighted(a.memAvg, a.n, b.memAvg, b.n),
    memP95: maxOf(a.memP95, b.memP95),
    memMax: maxOf(a.memMax, b.memMax),
  };
}

interface HourRow {
  hour: number; n: number;
  cpu_avg: number | null; cpu_p95: number | null; cpu_max: number | null;
  mem_avg: number | null; mem_p95: number | null; mem_max: number | null;
}

/** Prepares the history's statements once on a migrated database (see openDatabase in hub/store.ts). */
export function createSampleHistory(db: Database.Database): SampleHistory {
  const q = {
    hours: db.prepare<[number, number], HourRow>(
      'SELECT hour, n, cpu_avg, cpu_p95, cpu_max, mem_avg, mem_p95, mem_max FROM sample_hours WHERE node_id = ? AND hour >= ? ORDER BY hour'),
    raw: db.prepare<[number, number], { ts: number; cpuUsed: number | null; memUsed: number | null }>(
      'SELECT ts, cpu_used AS cpuUsed, mem_used AS memUsed FROM samples WHERE node_id = ? AND ts >= ? ORDER BY ts'),
  };
  return {
    hourly(nodeId, since) {
      const from = Math.floor(since / HOUR) * HOUR;
      // Both reads see one snapshot: a rollup between them (by another connection, once several hubs share a database)
      // would move samples from raw to hourly and count them twice or not at all.
      const [stored, raw] = db.transaction(() => [q.hours.all(nodeId, from), q.raw.all(nodeId, from)] as const)();
      const byHour = new Map<number, HourPoint>();
      for (const r of stored) {
        byHour.set(r.hour, {
          hour: r.hour, n: r.n, cpuAvg: r.cpu_avg, cpuP95: r.cpu_p95, cpuMax: r.cpu_max, memAvg: r.mem_avg, memP95: r.mem_p95, memMax: r.mem_max,
        });
      }
      for (const h of hoursOf(raw)) {
        const had = byHour.get(h.hour);
        byHour.set(h.hour, had ? merge(had, h) : h);
      }
      return [...byHour.values()].sort((a, b) => a.hour - b.hour);
    },
  };
}
