/**
 * /proc/net/dev: per-interface traffic counters.
 */
import type { NetworkUse } from '../../protocol/messages.ts';
import { readFileAt, readProcText, tryReadNumber } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/**
 * Parses /proc/net/dev. Every interface is kept, `lo` included, as node_exporter
 * does; dashboards filter. The counters are those of the network namespace the
 * agent runs in, so an agent in a container must share the host's network.
 */
export function parseNetDev(text: string): NetworkUse[] {
  const out: NetworkUse[] = [];
  const lines = text.split('\n');
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
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

/** /proc/net/dev's 16 columns under node_exporter's names (`Network device statistic <name>.`). */
export const NETDEV_COLUMNS = [
  'receive_bytes', 'receive_packets', 'receive_errs', 'receive_drop', 'receive_fifo', 'receive_frame', 'receive_compressed', 'receive_multicast',
  'transmit_bytes', 'transmit_packets', 'transmit_errs', 'transmit_drop', 'transmit_fifo', 'transmit_colls', 'transmit_carrier', 'transmit_compressed',
] as const;

/** Parses /proc/net/dev into every column of every interface, in file order. */
export function parseNetDevColumns(text: string): { device: string; values: number[] }[] {
  const out: { device: string; values: number[] }[] = [];
  const lines = text.split('\n');
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
    const colon = line.indexOf(':');
    if (colon < 0 || line.includes('|')) continue;
    const device = line.slice(0, colon).trim();
    const values = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (device === '' || values.length < 16 || !values.every((n) => Number.isFinite(n) && n >= 0)) continue;
    out.push({ device, values: values.slice(0, 16) });
  }
  return out;
}

/**
 * node_exporter's `netdev` collector. node_exporter 1.5 reads these over
 * netlink, whose counters /proc/net/dev prints summed the same way; the one
 * netlink has and the file lacks, rx_nohandler, is in sysfs.
 */
export const netdevCollector: CollectorSpec = {
  name: 'netdev',
  reads: '/proc/net/dev, /sys/class/net/*/statistics/rx_nohandler',
  enabled: true,
  every: 1,
  maxSeries: 17 * 1024,
  whenAbsent: 'nodata',
  create(ctx) {
    // rx_nohandler (packets for a protocol nobody listens to) is a file per interface and nearly always 0: read it once a minute.
    let nohandlers = new Map<string, number>();
    let runs = 0;
    return (out) => {
      const rows = parseNetDevColumns(readFileAt(ctx.root, '/proc/net/dev'));
      const fams = NETDEV_COLUMNS.map((c) => out.counter(`node_network_${c}_total`, `Network device statistic ${c}.`, ['device']));
      const nohandler = out.counter('node_network_receive_nohandler_total', 'Network device statistic receive_nohandler.', ['device']);
      const fresh = runs++ % 6 === 0;
      const next = new Map<string, number>();
      for (let ix = 0; ix < rows.length; ix++) {
        const { device, values } = rows[ix]!;
        values.forEach((v, i) => fams[i]!(v, device));
        const n = (fresh ? undefined : nohandlers.get(device)) ?? tryReadNumber(ctx.root, `/sys/class/net/${device}/statistics/rx_nohandler`) ?? 0;
        next.set(device, n);
        nohandler(n, device);
      }
      nohandlers = next;
    };
  },
};
