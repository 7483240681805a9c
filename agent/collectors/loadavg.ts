/**
 * /proc/loadavg: the 1, 5 and 15 minute load averages.
 */
import { readFileAt, readProcText } from './read.ts';
import type { CollectorSpec } from './registry.ts';

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

/** node_exporter's `loadavg` collector. */
export const loadavgCollector: CollectorSpec = {
  name: 'loadavg',
  reads: '/proc/loadavg',
  enabled: true,
  every: 1,
  maxSeries: 3,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    const [a, b, c] = parseLoadavg(readFileAt(ctx.root, '/proc/loadavg'));
    out.gauge('node_load1', '1m load average.')(a);
    out.gauge('node_load5', '5m load average.')(b);
    out.gauge('node_load15', '15m load average.')(c);
  },
};
