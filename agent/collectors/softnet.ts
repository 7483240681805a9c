/**
 * node_exporter's `softnet` collector: packets each CPU's network softirq
 * processed, dropped and ran out of budget for, from /proc/net/softnet_stat.
 */
import { readFileAt } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** One CPU's row of /proc/net/softnet_stat (hexadecimal columns). */
export interface SoftnetRow {
  processed: number;
  dropped: number;
  timeSqueezed: number;
}

/** Parses /proc/net/softnet_stat: one row per online CPU, in order. */
export function parseSoftnet(text: string): SoftnetRow[] {
  const rows: SoftnetRow[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3) continue;
    const [processed, dropped, timeSqueezed] = f.slice(0, 3).map((h) => parseInt(h, 16));
    if (![processed, dropped, timeSqueezed].every((n) => Number.isFinite(n))) throw new Error(`unexpected softnet_stat line: ${JSON.stringify(line.slice(0, 80))}`);
    rows.push({ processed: processed!, dropped: dropped!, timeSqueezed: timeSqueezed! });
  }
  return rows;
}

export const softnetCollector: CollectorSpec = {
  name: 'softnet',
  reads: '/proc/net/softnet_stat',
  enabled: true,
  every: 1,
  maxSeries: 3 * 4096,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    const rows = parseSoftnet(readFileAt(ctx.root, '/proc/net/softnet_stat'));
    const processed = out.counter('node_softnet_processed_total', 'Number of processed packets', ['cpu']);
    const dropped = out.counter('node_softnet_dropped_total', 'Number of dropped packets', ['cpu']);
    const squeezed = out.counter('node_softnet_times_squeezed_total', 'Number of times processing packets ran out of quota', ['cpu']);
    rows.forEach((r, i) => {
      const cpu = String(i);
      processed(r.processed, cpu);
      dropped(r.dropped, cpu);
      squeezed(r.timeSqueezed, cpu);
    });
  },
};
