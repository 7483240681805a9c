/**
 * node_exporter's `entropy` collector: the kernel's entropy pool, from
 * /proc/sys/kernel/random.
 */
import { readFileAt } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** Parses a one-number /proc/sys file. */
export function parseSysctlNumber(text: string): number {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n)) throw new Error(`not a number: ${JSON.stringify(text.slice(0, 64))}`);
  return n;
}

export const entropyCollector: CollectorSpec = {
  name: 'entropy',
  reads: '/proc/sys/kernel/random/{entropy_avail,poolsize}',
  enabled: true,
  every: 1,
  maxSeries: 2,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    out.gauge('node_entropy_available_bits', 'Bits of available entropy.')(parseSysctlNumber(readFileAt(ctx.root, '/proc/sys/kernel/random/entropy_avail')));
    out.gauge('node_entropy_pool_size_bits', 'Bits of entropy pool.')(parseSysctlNumber(readFileAt(ctx.root, '/proc/sys/kernel/random/poolsize')));
  },
};
