/** Durations as people type them in requests and config: `90s`, `15m`, `1h`, `7d`. */

const DURATION_RE = /^(\d+)(s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `90s`, `15m`, `1h`, `7d` into milliseconds; undefined for anything else. */
export function parseDuration(s: string): number | undefined {
  const m = DURATION_RE.exec(s);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}
