/**
 * /proc/net/dev: per-interface traffic counters.
 */
import type { NetworkUse } from '../../protocol/messages.ts';
import { readProcText } from './read.ts';

/**
 * Parses /proc/net/dev. Every interface is kept, `lo` included, as node_exporter
 * does; dashboards filter. The counters are those of the network namespace the
 * agent runs in, so an agent in a container must share the host's network.
 */
export function parseNetDev(text: string): NetworkUse[] {
  const out: NetworkUse[] = [];
  for (const line of text.split('\n')) {
    // Old kernels print `eth0:123` with no space once a counter gets wide, so split on the colon.
    const colon = line.indexOf(':');
    if (colon < 0 || line.includes('|')) continue;
    const iface = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (iface === '' || f.length < 16 || !f.every((n) => Number.isFinite(n) && n >= 0)) continue;
    const at = (i: number): number => f[i] ?? 0;
    out.push({
      iface,
      rxBytes: at(0), rxPackets: at(1), rxErrors: at(2), rxDropped: at(3),
      txBytes: at(8), txPackets: at(9), txErrors: at(10), txDropped: at(11),
    });
  }
  return out;
}

/** Reads and parses `<root>/proc/net/dev`. */
export async function readNetDev(root: string): Promise<NetworkUse[]> {
  return parseNetDev(await readProcText(root, '/proc/net/dev'));
}
