/**
 * node_exporter's `arp` collector: neighbour entries per device, from /proc/net/arp.
 */
import { readFileAt } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** Parses /proc/net/arp into entries per device (its last column). */
export function parseArp(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    if (f[0] === 'IP') continue;
    const dev = f[f.length - 1]!;
    out.set(dev, (out.get(dev) ?? 0) + 1);
  }
  return out;
}

export const arpCollector: CollectorSpec = {
  name: 'arp',
  reads: '/proc/net/arp',
  enabled: true,
  every: 1,
  maxSeries: 4096,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    const entries = out.gauge('node_arp_entries', 'ARP entries by device', ['device']);
    for (const [dev, n] of parseArp(readFileAt(ctx.root, '/proc/net/arp'))) entries(n, dev);
  },
};
