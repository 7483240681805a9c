/**
 * A write budget per node: bytes and rows a node may have the hub store per
 * minute, as token buckets that bank up to two hours of budget. A busy real
 * node uses ~40 KiB and a few hundred rows a minute; an agent replaying a
 * 12 h outage needs a burst of ~30 MiB, which two hours of the default
 * 512 KiB a minute cover. Beyond that, one join token must not be able to
 * fill the hub's disk: the gateway pauses the node until its budget has
 * refilled, and the agent keeps its records meanwhile.
 */

export interface WriteBudgetOptions {
  /** Sustained bytes per minute per node (default 512 KiB). */
  bytesPerMinute?: number;
  /** Sustained rows (samples, workload items) per minute per node (default 2,000). */
  rowsPerMinute?: number;
  /** Bytes a node may spend at once, e.g. replaying an outage (default: two hours of bytesPerMinute, 60 MiB). */
  burstBytes?: number;
  /** Rows a node may spend at once (default: two hours of rowsPerMinute, 240,000). */
  burstRows?: number;
}

/** The verdict on one write. */
export type BudgetVerdict = { ok: true } | { ok: false; retryAfterMs: number; reason: string };

export interface WriteBudget {
  /** Takes `bytes` and `rows` from the node's budget, or says how long until it could. Takes nothing when refused. */
  take(nodeId: number, bytes: number, rows: number): BudgetVerdict;
  /** Forgets a node (removed). */
  forget(nodeId: number): void;
}

/** How much budget a quiet node banks: enough to replay a 12 h outage at the default rate. */
const BURST_MS = 2 * 3_600_000;

interface Bucket {
  bytes: number;
  rows: number;
  at: number;
}

/** Creates the budgets; every node starts with a full burst. */
export function createWriteBudget(now: () => number, opts: WriteBudgetOptions = {}): WriteBudget {
  const bytesPerMs = (opts.bytesPerMinute ?? 512 * 1024) / 60_000;
  const rowsPerMs = (opts.rowsPerMinute ?? 2_000) / 60_000;
  const burstBytes = opts.burstBytes ?? bytesPerMs * BURST_MS;
  const burstRows = opts.burstRows ?? rowsPerMs * BURST_MS;
  const buckets = new Map<number, Bucket>();
  return {
    take(nodeId, bytes, rows) {
      const t = now();
      let b = buckets.get(nodeId);
      if (!b) buckets.set(nodeId, (b = { bytes: burstBytes, rows: burstRows, at: t }));
      const dt = Math.max(0, t - b.at);
      b.bytes = Math.min(burstBytes, b.bytes + dt * bytesPerMs);
      b.rows = Math.min(burstRows, b.rows + dt * rowsPerMs);
      b.at = t;
      if (bytes <= b.bytes && rows <= b.rows) {
        b.bytes -= bytes;
        b.rows -= rows;
        return { ok: true };
      }
      // A write larger than the whole burst can never fit: wait for a full bucket, then let it through alone.
      const needBytes = Math.min(bytes, burstBytes) - b.bytes;
      const needRows = Math.min(rows, burstRows) - b.rows;
      const wait = Math.max(needBytes > 0 ? needBytes / bytesPerMs : 0, needRows > 0 ? needRows / rowsPerMs : 0);
      if (wait <= 0) {
        b.bytes = Math.max(0, b.bytes - bytes);
        b.rows = Math.max(0, b.rows - rows);
        return { ok: true };
      }
      const reason = needBytes > 0 ? `over its write budget of ${Math.round((bytesPerMs * 60_000) / 1024)} KiB a minute` : `over its write budget of ${Math.round(rowsPerMs * 60_000)} rows a minute`;
      return { ok: false, retryAfterMs: Math.ceil(wait), reason };
    },
    forget: (nodeId) => void buckets.delete(nodeId),
  };
}
