/**
 * What the DNS server knows: a snapshot of the inventory (nodes with their
 * addresses and metadata, services with their healthy instances), compiled
 * into lookup tables keyed by DNS label. The hub builds a new snapshot when
 * the inventory changes; the resolver only reads it.
 */
import { isIP } from 'node:net';
import { dnsLabel } from './names.ts';

/** A node as DNS shows it. */
export interface ZoneNode {
  name: string;
  /** IPv4 and IPv6 addresses, as text. */
  addresses: string[];
  /** TXT strings: `arch=arm64`, `os=...`, labels as `key=value`. */
  txt: string[];
}

/** One healthy instance of a service. */
export interface ZoneInstance {
  node: string;
  ports: { port: number; protocol: string }[];
}

/** A service and its healthy instances only (offline nodes, stopped or unhealthy instances left out by the caller). */
export interface ZoneService {
  name: string;
  instances: ZoneInstance[];
}

/** Everything DNS answers from, at one moment. */
export interface ZoneSnapshot {
  nodes: ZoneNode[];
  services: ZoneService[];
}

/** A node with its addresses split by family. */
export interface CompiledNode {
  label: string;
  v4: string[];
  v6: string[];
  txt: string[];
}

/** The snapshot as lookup tables, keyed by lower-case DNS label. */
export interface CompiledZone {
  nodes: Map<string, CompiledNode>;
  /** Service label -> the node labels of its healthy instances, and its ports per protocol. */
  services: Map<string, { nodes: string[]; srv: Map<string, { node: string; port: number }[]> }>;
  /** Reverse name (`4.3.2.1.in-addr.arpa`) -> node label. */
  reverse: Map<string, string>;
}

/** The reverse-lookup name of an address: `1.2.3.4` -> `4.3.2.1.in-addr.arpa`, IPv6 nibbles under ip6.arpa. */
export function reverseName(address: string): string | undefined {
  const family = isIP(address);
  if (family === 4) return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
  if (family !== 6) return undefined;
  const [head = '', tail = ''] = address.split('::');
  const parts = (s: string) => (s ? s.split(':') : []);
  let h = parts(head);
  let t = parts(tail);
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const lastOf = (list: string[]) => list[list.length - 1];
  const fix = (list: string[]) => {
    const last = lastOf(list);
    if (last && last.includes('.')) {
      const b = last.split('.').map(Number);
      list.splice(list.length - 1, 1, ((b[0]! << 8) | b[1]!).toString(16), ((b[2]! << 8) | b[3]!).toString(16));
    }
    return list;
  };
  h = fix(h);
  t = fix(t);
  const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const nibbles = groups.map((g) => g.padStart(4, '0')).join('');
  return `${[...nibbles].reverse().join('.')}.ip6.arpa`;
}

/** Builds the lookup tables; names are mapped to labels the same way `muster where` shows them. */
export function compileZone(snapshot: ZoneSnapshot): CompiledZone {
  const nodes = new Map<string, CompiledNode>();
  const reverse = new Map<string, string>();
  for (const n of snapshot.nodes) {
    const label = dnsLabel(n.name);
    const v4 = [...new Set(n.addresses.filter((a) => isIP(a) === 4))];
    const v6 = [...new Set(n.addresses.filter((a) => isIP(a) === 6))];
    nodes.set(label, { label, v4, v6, txt: n.txt });
    for (const a of [...v4, ...v6]) {
      const r = reverseName(a);
      if (r && !reverse.has(r)) reverse.set(r, label);
    }
  }
  const services: CompiledZone['services'] = new Map();
  for (const s of snapshot.services) {
    const label = dnsLabel(s.name);
    let entry = services.get(label);
    if (!entry) services.set(label, (entry = { nodes: [], srv: new Map() }));
    for (const inst of s.instances) {
      const node = dnsLabel(inst.node);
      if (!nodes.has(node)) continue;
      if (!entry.nodes.includes(node)) entry.nodes.push(node);
      for (const p of inst.ports) {
        const list = entry.srv.get(p.protocol) ?? [];
        if (!list.some((x) => x.node === node && x.port === p.port)) list.push({ node, port: p.port });
        entry.srv.set(p.protocol, list);
      }
    }
  }
  return { nodes, services, reverse };
}
