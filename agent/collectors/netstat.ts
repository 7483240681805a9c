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

/** Parses /proc/net/netstat or /proc/net/snmp: pairs of header and value lines per protocol. Keys are `Protocol_Field`; `keep` skips the others early. */
export function parseNetstat(text: string, keep: (key: string) => boolean = () => true): Map<string, number> {
  const out = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(' ');
    const values = lines[i + 1]!.split(' ');
    if (names.length < 2) continue;
    const protocol = names[0]!.slice(0, -1);
    if (names.length !== values.length) throw new Error(`field count mismatch in ${protocol}`);
    for (let j = 1; j < names.length; j++) {
      const key = `${protocol}_${names[j]}`;
      if (!keep(key)) continue;
      const n = Number(values[j]);
      if (Number.isFinite(n)) out.set(key, n);
    }
  }
  return out;
}

/** Parses /proc/net/snmp6 (`Ip6InOctets 123` lines) into `Ip6_InOctets` keys. */
export function parseSnmp6(text: string, keep: (key: string) => boolean = () => true): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key === undefined || value === undefined) continue;
    const six = key.indexOf('6');
    if (six < 0) continue;
    const k = `${key.slice(0, six + 1)}_${key.slice(six + 1)}`;
    if (!keep(k)) continue;
    const n = Number(value);
    if (Number.isFinite(n)) out.set(k, n);
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
    return (out) => {
      const all = parseNetstat(readFileAt(ctx.root, '/proc/net/netstat'), wanted);
      for (const [k, v] of parseNetstat(readFileAt(ctx.root, '/proc/net/snmp'), wanted)) all.set(k, v);
      try {
        for (const [k, v] of parseSnmp6(readFileAt(ctx.root, '/proc/net/snmp6'), wanted)) all.set(k, v);
      } catch (err) {
        if (!isAbsent(err)) throw err; // a kernel without IPv6
      }
      for (const [key, v] of all) out.untyped(`node_netstat_${key}`, `Statistic ${key.replace('_', '')}.`)(v);
    };
  },
};
