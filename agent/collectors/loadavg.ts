/**
 * /proc/loadavg: the 1, 5 and 15 minute load averages.
 */
import { readProcText } from './read.ts';

/** Load averages over 1, 5 and 15 minutes. */
export type LoadAverage = [number, number, number];

/** Parses /proc/loadavg (`0.16 0.25 0.11 1/84 3955`). */
export function parseLoadavg(text: string): LoadAverage {
  const [a, b, c] = text.trim().split(/\s+/).map(Number);
  if (a === undefined || b === undefined || c === undefined || ![a, b, c].every((n) => Number.isFinite(n) && n >= 0)) {
    throw new Error(`unexpected /proc/loadavg: ${JSON.stringify(text.slice(0, 64))}`);
  }
  return [a, b, c];
}

/** Reads and parses `<root>/proc/loadavg`. */
export async function readLoadavg(root: string): Promise<LoadAverage> {
  return parseLoadavg(await readProcText(root, '/proc/loadavg'));
}
