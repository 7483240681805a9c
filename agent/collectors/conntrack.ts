/**
 * node_exporter's `conntrack` collector: the netfilter connection table's
 * size, limit and per-CPU statistics (summed), where nf_conntrack is loaded.
 */
import { isAbsent, readFileAt } from './read.ts';
import { NoDataError, type CollectorSpec } from './registry.ts';
import { parseSysctlNumber } from './entropy.ts';

/** The /proc/net/stat/nf_conntrack columns node_exporter reports, summed over CPUs. */
export const CONNTRACK_STATS = [
  ['found', 'found', 'Number of searched entries which were successful.'],
  ['invalid', 'invalid', 'Number of packets seen which can not be tracked.'],
  ['ignore', 'ignore', 'Number of packets seen which are already connected to a conntrack entry.'],
  ['insert', 'insert', 'Number of entries inserted into the list.'],
  ['insert_failed', 'insert_failed', 'Number of entries for which list insertion was attempted but failed.'],
  ['drop', 'drop', 'Number of packets dropped due to conntrack failure.'],
  ['early_drop', 'early_drop', 'Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.'],
  ['search_restart', 'search_restart', 'Number of conntrack table lookups which had to be restarted due to hashtable resizes.'],
] as const;

/** Parses /proc/net/stat/nf_conntrack (a header, then one row of hex numbers per CPU) into column sums. */
export function parseConntrackStat(text: string): Map<string, number> {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0]?.trim().split(/\s+/) ?? [];
  const sums = new Map<string, number>(header.map((h) => [h, 0]));
  for (const line of lines.slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length !== header.length) throw new Error('a row of /proc/net/stat/nf_conntrack does not match its header');
    f.forEach((hex, i) => sums.set(header[i]!, sums.get(header[i]!)! + parseInt(hex, 16)));
  }
  return sums;
}

export const conntrackCollector: CollectorSpec = {
  name: 'conntrack',
  reads: '/proc/sys/net/netfilter/nf_conntrack_{count,max}, /proc/net/stat/nf_conntrack',
  enabled: true,
  every: 1,
  maxSeries: 16,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    const read = (path: string): string => {
      try {
        return readFileAt(ctx.root, path);
      } catch (err) {
        if (isAbsent(err)) throw new NoDataError('nf_conntrack is not loaded');
        throw err;
      }
    };
    out.gauge('node_nf_conntrack_entries', 'Number of currently allocated flow entries for connection tracking.')(parseSysctlNumber(read('/proc/sys/net/netfilter/nf_conntrack_count')));
    out.gauge('node_nf_conntrack_entries_limit', 'Maximum size of connection tracking table.')(parseSysctlNumber(read('/proc/sys/net/netfilter/nf_conntrack_max')));
    const stats = parseConntrackStat(read('/proc/net/stat/nf_conntrack'));
    for (const [name, column, help] of CONNTRACK_STATS) out.gauge(`node_nf_conntrack_stat_${name}`, help)(stats.get(column) ?? 0);
  },
};
