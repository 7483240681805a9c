/**
 * node_exporter's `netstat` collector: the protocol counters of
 * /proc/net/netstat, /proc/net/snmp and /proc/net/snmp6 that dashboards
 * use (TCP retransmits and listen drops, UDP errors...), untyped as in
 * node_exporter.
 */
import { isAbsent, readFileAt } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** node_exporter's default `--collector.netstat.fields`. */
export const NETSTAT_FIELDS = /^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$/;

/**
 * Which fields of a file are kept, by its header text: a running kernel's
 * headers never change, so each header line is split and filtered once and
 * each later run picks only the kept values out of the value lines.
 */
export interface NetstatLayouts {
  /** Header line of netstat/snmp -> its field count, protocol and the kept fields' places and keys. */
  paired: Map<string, { count: number; protocol: string; kept: Array<[number, string]> }>;
  /** Counter name of snmp6 (`Ip6InOctets`) -> its key (`Ip6_InOctets`), or null when not kept. */
  six: Map<string, string | null>;
}

/** Empty layouts; a collector keeps one for its lifetime. */
export function createNetstatLayouts(): NetstatLayouts {
  return { paired: new Map(), six: new Map() };
}

/** Parses /proc/net/netstat or /proc/net/snmp: pairs of header and value lines per protocol. Keys are `Protocol_Field`; `keep` skips the others early. */
export function parseNetstat(text: string, keep: (key: string) => boolean = () => true, layouts: NetstatLayouts = createNetstatLayouts()): Map<string, number> {
  const out = new Map<string, number>();
  const len = text.length;
  let pos = 0;
  for (;;) {
    const headerEnd = text.indexOf('\n', pos);
    if (headerEnd < 0) break; // a header with no value line after it
    const next = text.indexOf('\n', headerEnd + 1);
    const valuesEnd = next < 0 ? len : next;
    const header = text.slice(pos, headerEnd);
    let layout = layouts.paired.get(header);
    if (!layout) {
      const names = header.split(' ');
      const protocol = (names[0] ?? '').slice(0, -1);
      const kept: Array<[number, string]> = [];
      for (let j = 1; j < names.length; j++) {
        const key = `${protocol}_${names[j]}`;
        if (keep(key)) kept.push([j, key]);
      }
      layout = { count: names.length, protocol, kept };
      layouts.paired.set(header, layout);
    }
    if (layout.count >= 2) {
      // The value line's fields by their places, cut out only where kept: no array of every field.
      let field = 0;
      let start = headerEnd + 1;
      let k = 0;
      for (;;) {
        let space = text.indexOf(' ', start);
        if (space < 0 || space > valuesEnd) space = valuesEnd;
        const want = layout.kept[k];
        if (want && want[0] === field) {
          const n = Number(text.slice(start, space));
          if (Number.isFinite(n)) out.set(want[1], n);
          k++;
        }
        field++;
        if (space === valuesEnd) break;
        start = space + 1;
      }
      if (field !== layout.count) throw new Error(`field count mismatch in ${layout.protocol}`);
    }
    if (next < 0) break;
    pos = next + 1;
  }
  return out;
}

const SNMP6_LINE = /^[ \t]*(\S+)[ \t]+(\S+)/;

/** Parses /proc/net/snmp6 (`Ip6InOctets 123` lines) into `Ip6_InOctets` keys. */
export function parseSnmp6(text: string, keep: (key: string) => boolean = () => true, layouts: NetstatLayouts = createNetstatLayouts()): Map<string, number> {
  const out = new Map<string, number>();
  // Line by line with index loops, not matchAll: V8's interpreter (the agent runs --lite-mode) allocates a result object per for-of step.
  const lines = text.split('\n');
  for (let li = 0; li < lines.length; li++) {
    const m = SNMP6_LINE.exec(lines[li]!);
    if (!m) continue;
    const name = m[1]!;
    let key = layouts.six.get(name);
    if (key === undefined) {
      const six = name.indexOf('6');
      const k = six < 0 ? '' : `${name.slice(0, six + 1)}_${name.slice(six + 1)}`;
      key = six >= 0 && keep(k) ? k : null;
      layouts.six.set(name, key);
    }
    if (key === null) continue;
    const n = Number(m[2]);
    if (Number.isFinite(n)) out.set(key, n);
  }
  return out;
}

export const netstatCollector: CollectorSpec = {
  name: 'netstat',
  reads: '/proc/net/netstat, /proc/net/snmp, /proc/net/snmp6',
  enabled: true,
  every: 1,
  maxSeries: 1024,
  whenAbsent: 'nodata',
  create(ctx) {
    // Three files of a few hundred counters each, of which ~40 are kept: remember which.
    const keep = new Map<string, boolean>();
    const wanted = (key: string) => {
      let k = keep.get(key);
      if (k === undefined) keep.set(key, (k = NETSTAT_FIELDS.test(key)));
      return k;
    };
    const layouts = createNetstatLayouts();
    return (out) => {
      const all = parseNetstat(readFileAt(ctx.root, '/proc/net/netstat'), wanted, layouts);
      parseNetstat(readFileAt(ctx.root, '/proc/net/snmp'), wanted, layouts).forEach((v, k) => all.set(k, v));
      try {
        parseSnmp6(readFileAt(ctx.root, '/proc/net/snmp6'), wanted, layouts).forEach((v, k) => all.set(k, v));
      } catch (err) {
        if (!isAbsent(err)) throw err; // a kernel without IPv6
      }
      all.forEach((v, key) => out.untyped(`node_netstat_${key}`, `Statistic ${key.replace('_', '')}.`)(v));
    };
  },
};
