/**
 * What protects a small node from a chatty container: a token bucket per
 * source for lines and bytes per second, lines cut at a size, and the
 * `--logs-exclude` patterns.
 */

/** A source's allowance: sustained rates and the bursts it may bank. */
export interface RateLimit {
  linesPerSecond: number;
  bytesPerSecond: number;
  burstLines: number;
  burstBytes: number;
}

/** Token buckets by source key. */
export interface RateLimiter {
  /** Takes one line of `bytes` from the source's bucket; false when it is over its limit (then nothing is taken). */
  take(key: string, bytes: number): boolean;
  /** Forgets a source (a removed container). */
  forget(key: string): void;
}

/** Creates the buckets; every source starts with a full burst. */
export function createRateLimiter(limit: RateLimit, now: () => number): RateLimiter {
  const buckets = new Map<string, { lines: number; bytes: number; at: number }>();
  const lps = limit.linesPerSecond / 1000;
  const bps = limit.bytesPerSecond / 1000;
  return {
    take(key, bytes) {
      const t = now();
      let b = buckets.get(key);
      if (!b) buckets.set(key, (b = { lines: limit.burstLines, bytes: limit.burstBytes, at: t }));
      const dt = Math.max(0, t - b.at);
      b.at = t;
      b.lines = Math.min(limit.burstLines, b.lines + dt * lps);
      b.bytes = Math.min(limit.burstBytes, b.bytes + dt * bps);
      if (b.lines < 1 || b.bytes < bytes) return false;
      b.lines -= 1;
      b.bytes -= bytes;
      return true;
    },
    forget: (key) => void buckets.delete(key),
  };
}

/** A `--logs-exclude` pattern as a matcher: `*` any run of characters, `?` one; the whole name must match. */
export function globMatcher(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => false;
  const res = patterns.map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
  return (name) => res.some((re) => re.test(name));
}
