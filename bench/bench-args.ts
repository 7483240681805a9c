/** Command-line flags shared by the benches: durations, lists and --json. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A problem with the flags; the bench prints it with its usage and exits 2. */
export class UsageError extends Error {
  readonly code = 'MUSTER_ERR_USAGE';
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Parses `500ms`, `10s`, `1.5m`, `1h` (a bare number is seconds) into milliseconds; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 1_000);
  return ms > 0 ? ms : undefined;
}

/** Parses a duration flag or throws a UsageError naming it. */
export function durationFlag(name: string, value: string | undefined, fallback: string): number {
  const ms = parseDuration(value ?? fallback);
  if (ms === undefined) throw new UsageError(`--${name} must be a duration like 30s, 3m or 500ms, not ${JSON.stringify(value)}`);
  return ms;
}

/** Parses `100,500,1000` into positive integers or throws a UsageError naming the flag. */
export function countListFlag(name: string, value: string | undefined, fallback: string): number[] {
  const parts = (value ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
  const counts = parts.map(Number);
  if (counts.length === 0 || !counts.every((n) => Number.isInteger(n) && n > 0)) {
    throw new UsageError(`--${name} must be a comma-separated list of positive integers, not ${JSON.stringify(value)}`);
  }
  return counts;
}

/** node:util parseArgs in strict mode, its errors turned into UsageErrors. */
export function parseFlags<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Parses a non-negative integer flag or throws a UsageError naming it. */
export function countFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new UsageError(`--${name} must be a whole number, not ${JSON.stringify(value)}`);
  return n;
}
