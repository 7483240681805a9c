/**
 * Client addresses as the DNS server's defences see them: parsed to bytes,
 * matched against CIDRs (who may recurse), and grouped into prefixes (whom
 * rate limits and TCP caps count as one client). An IPv4 address that
 * arrives mapped into IPv6 (`::ffff:192.0.2.1`, on a dual-stack socket) is
 * treated as the IPv4 address it is, so one rule covers both spellings.
 */
import { isIP } from 'node:net';

/** A network: its address bytes (4 or 16), already masked, and the prefix length. */
export interface Cidr {
  bytes: Uint8Array;
  bits: number;
  /** As written in canonical form, for logs: `192.168.1.0/24`. */
  text: string;
}

const MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** Parses a dotted quad; undefined unless it is exactly four numbers 0-255. */
function parseV4(text: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part === 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      value = value * 10 + (c - 48);
      digits++;
      if (value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (digits === 0 || part !== 3) return undefined;
  out[3] = value;
  return out;
}

/** Parses an IPv6 address (with `::` and an optional IPv4 tail, no zone id) to 16 bytes. */
function parseV6(text: string): Uint8Array | undefined {
  if (isIP(text) !== 6) return undefined;
  const halves = text.split('::');
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const v4 = parseV4(g);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length > 1 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const all = halves.length > 1 ? [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  if (all.length !== 8) return undefined;
  const out = new Uint8Array(16);
  all.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff; });
  return out;
}

/** An address as bytes: 4 for IPv4 (mapped IPv6 included), 16 for IPv6; undefined when it is not an address. */
export function parseAddress(text: string): Uint8Array | undefined {
  if (!text.includes(':')) return parseV4(text);
  const mapped = MAPPED.exec(text);
  return mapped ? parseV4(mapped[1]!) : parseV6(text);
}

/** The bytes with every bit past `bits` cleared. */
function masked(bytes: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    out[i] = bytes[i]! & ((0xff00 >> keep) & 0xff);
  }
  return out;
}

/** Bytes as an address in canonical text (RFC 5952: the longest run of two or more zero groups as `::`). */
function formatBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j === i ? i + 1 : j;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(':');
  return best < 0 ? hex(groups) : `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/** Parses `ADDRESS/BITS` (or a bare address, a single host); undefined when it is not one. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const bytes = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  let bits = max;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b)) return undefined;
    bits = Number(b);
    // A mapped IPv4 network written as IPv6 (::ffff:10.0.0.0/104) counts its bits over 128.
    if (MAPPED.test(text.slice(0, slash))) bits -= 96;
    if (bits < 0 || bits > max) return undefined;
  }
  const net = masked(bytes, bits);
  return { bytes: net, bits, text: `${formatBytes(net)}/${bits}` };
}

/** Whether the address (as parseAddress gives it) is inside the network. */
export function cidrContains(cidr: Cidr, address: Uint8Array): boolean {
  if (cidr.bytes.length !== address.length) return false;
  let bits = cidr.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff00 >> bits) & 0xff;
    if ((address[i]! & mask) !== cidr.bytes[i]) return false;
  }
  return true;
}

/**
 * A key naming the client's prefix (the first `v4Bits` or `v6Bits` bits of
 * its address): everyone in one prefix shares one rate limit or TCP quota,
 * as with BIND's RRL, since one host may own a whole IPv6 /64 and more.
 */
export function prefixKey(address: string, v4Bits: number, v6Bits: number): string {
  const mapped = address.includes(':') ? MAPPED.exec(address) : null;
  if (mapped) address = mapped[1]!;
  // The common case, by far: an IPv4 /24 is the text before the last dot.
  if (v4Bits === 24 && !address.includes(':')) {
    const dot = address.lastIndexOf('.');
    if (dot > 0) return address.slice(0, dot);
  }
  const bytes = parseAddress(address);
  if (!bytes) return address;
  return formatBytes(masked(bytes, bytes.length === 4 ? v4Bits : v6Bits));
}
