/**
 * node_exporter's `sockstat` collector: sockets in use per protocol and the
 * memory they hold, from /proc/net/sockstat and /proc/net/sockstat6.
 */
import { isAbsent, readFileAt } from './read.ts';
import type { CollectorSpec } from './registry.ts';
import { pageSize } from './page-size.ts';

/** One protocol line: `TCP: inuse 4 orphan 0 tw 0 alloc 6 mem 1`. */
export interface SockstatLine {
  protocol: string;
  fields: [string, number][];
}

/** Parses /proc/net/sockstat{,6}; `sockets: used N` is returned apart. */
export function parseSockstat(text: string): { used: number | undefined; protocols: SockstatLine[] } {
  let used: number | undefined;
  const protocols: SockstatLine[] = [];
  const lines = text.split('\n');
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const protocol = line.slice(0, colon);
    const parts = line.slice(colon + 1).trim().split(/\s+/);
    const fields: [string, number][] = [];
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const n = Number(parts[i + 1]);
      if (!Number.isFinite(n)) throw new Error(`unexpected sockstat line: ${JSON.stringify(line.slice(0, 80))}`);
      fields.push([parts[i]!, n]);
    }
    if (protocol === 'sockets') used = fields.find(([k]) => k === 'used')?.[1];
    else protocols.push({ protocol, fields });
  }
  return { used, protocols };
}

/** The states node_exporter knows, in its order; `mem` also gives `mem_bytes` (pages * page size). */
const STATES = ['inuse', 'orphan', 'tw', 'alloc', 'mem', 'memory'];

export const sockstatCollector: CollectorSpec = {
  name: 'sockstat',
  reads: '/proc/net/sockstat, /proc/net/sockstat6',
  enabled: true,
  every: 1,
  maxSeries: 256,
  whenAbsent: 'quiet',
  create: (ctx) => (out) => {
    // Neither file is an error for node_exporter either: a kernel without IPv4 sockets is no broken host.
    for (const [file, v6] of [['/proc/net/sockstat', false], ['/proc/net/sockstat6', true]] as const) {
      let text: string;
      try {
        text = readFileAt(ctx.root, file);
      } catch (err) {
        if (isAbsent(err)) continue; // no IPv6 in this kernel
        throw err;
      }
      const s = parseSockstat(text);
      if (!v6 && s.used !== undefined) out.gauge('node_sockstat_sockets_used', 'Number of IPv4 sockets in use.')(s.used);
      for (let ix = 0; ix < s.protocols.length; ix++) {
        const p = s.protocols[ix]!;
        for (let si = 0; si < STATES.length; si++) {
          const state = STATES[si]!;
          const v = p.fields.find(([k]) => k === state)?.[1];
          if (v === undefined) continue;
          out.gauge(`node_sockstat_${p.protocol}_${state}`, `Number of ${p.protocol} sockets in state ${state}.`)(v);
          if (state === 'mem') out.gauge(`node_sockstat_${p.protocol}_mem_bytes`, `Number of ${p.protocol} sockets in state mem_bytes.`)(v * pageSize());
        }
      }
    }
  },
};
