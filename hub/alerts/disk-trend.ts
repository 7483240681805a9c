/**
 * How fast each filesystem fills, for "disk full within 24 h": a few hours
 * of its used bytes, one point every few minutes, and the least-squares line
 * through them. Kept in memory: after a hub restart the trend starts again
 * (it needs an hour of points before it predicts anything).
 */

export interface DiskTrendOptions {
  /** How far back the line looks (default 6 h). */
  windowMs?: number;
  /** One point per this period at most (default 5 min). */
  everyMs?: number;
  /** No prediction before the points span this long (default 1 h). */
  minSpanMs?: number;
}

export interface DiskTrend {
  /** Records a filesystem's use at `ts`. */
  observe(node: string, mountpoint: string, ts: number, usedBytes: number): void;
  /** Milliseconds until the free bytes run out at the current rate; undefined when it is not filling or there is too little history. */
  timeToFull(node: string, mountpoint: string, availBytes: number): number | undefined;
  /** Forgets filesystems not observed since `before` (nodes gone, filesystems unmounted). */
  prune(before: number): void;
}

/** Creates an empty tracker. */
export function createDiskTrend(opts: DiskTrendOptions = {}): DiskTrend {
  const windowMs = opts.windowMs ?? 6 * 3_600_000;
  const everyMs = opts.everyMs ?? 5 * 60_000;
  const minSpanMs = opts.minSpanMs ?? 3_600_000;
  const series = new Map<string, { ts: number; used: number }[]>();
  const key = (node: string, mount: string) => `${node}\u0000${mount}`;
  return {
    observe(node, mountpoint, ts, usedBytes) {
      const k = key(node, mountpoint);
      let pts = series.get(k);
      if (!pts) series.set(k, (pts = []));
      const last = pts[pts.length - 1];
      if (last && ts - last.ts < everyMs) return;
      pts.push({ ts, used: usedBytes });
      while (pts.length && pts[0]!.ts < ts - windowMs) pts.shift();
    },
    timeToFull(node, mountpoint, availBytes) {
      const pts = series.get(key(node, mountpoint));
      if (!pts || pts.length < 3 || pts[pts.length - 1]!.ts - pts[0]!.ts < minSpanMs) return undefined;
      // Least squares on (ms since the first point, used bytes).
      const t0 = pts[0]!.ts;
      let sx = 0, sy = 0, sxx = 0, sxy = 0;
      for (const p of pts) {
        const x = p.ts - t0;
        sx += x; sy += p.used; sxx += x * x; sxy += x * p.used;
      }
      const n = pts.length;
      const denom = n * sxx - sx * sx;
      if (denom <= 0) return undefined;
      const slope = (n * sxy - sx * sy) / denom; // bytes per ms
      if (slope <= 0) return undefined;
      return Math.max(0, availBytes) / slope;
    },
    prune(before) {
      for (const [k, pts] of series) if (!pts.length || pts[pts.length - 1]!.ts < before) series.delete(k);
    },
  };
}
