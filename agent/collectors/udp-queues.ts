/**
 * node_exporter's `udp_queues` collector: bytes queued in UDP sockets'
 * send and receive buffers, from /proc/net/udp and /proc/net/udp6.
 */
import { isAbsent, readFileAt } from './read.ts';
import { NoDataError, type CollectorSpec } from './registry.ts';

/** Sums the tx_queue:rx_queue column (hexadecimal) of /proc/net/udp{,6}. */
export function parseUdpQueues(text: string): { tx: number; rx: number } {
  let tx = 0;
  let rx = 0;
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    const q = f[4];
    if (q === undefined) continue;
    const colon = q.indexOf(':');
    if (colon < 0) continue;
    tx += parseInt(q.slice(0, colon), 16) || 0;
    rx += parseInt(q.slice(colon + 1), 16) || 0;
  }
  return { tx, rx };
}

export const udpQueuesCollector: CollectorSpec = {
  name: 'udp_queues',
  reads: '/proc/net/udp, /proc/net/udp6',
  enabled: true,
  every: 1,
  maxSeries: 4,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    const queues = out.gauge('node_udp_queues', 'Number of allocated memory in the kernel for UDP datagrams in bytes.', ['queue', 'ip']);
    let found = false;
    for (const [file, ip] of [['/proc/net/udp', 'v4'], ['/proc/net/udp6', 'v6']] as const) {
      let text: string;
      try {
        text = readFileAt(ctx.root, file);
      } catch (err) {
        if (isAbsent(err)) continue;
        throw err;
      }
      found = true;
      const q = parseUdpQueues(text);
      queues(q.tx, 'tx', ip);
      queues(q.rx, 'rx', ip);
    }
    if (!found) throw new NoDataError('no /proc/net/udp');
  },
};
