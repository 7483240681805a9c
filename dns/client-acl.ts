/**
 * Who may use the hub as a recursive resolver. Names in the hub's own domain
 * are for anyone who can reach the port; names outside it are forwarded only
 * for allowed clients, so the hub is never an open resolver (a tool for
 * amplification and cache poisoning by strangers). The default, as dnsmasq's
 * `local-service`: loopback and the subnets of this machine's interfaces,
 * read again when an unknown address asks (at most every few seconds), so a
 * new interface or a DHCP change is noticed without a restart.
 */
import type { NetworkInterfaceInfo } from 'node:os';
import { cidrContains, parseAddress, parseCidr, type Cidr } from './addresses.ts';

/** This machine's interfaces, as `os.networkInterfaces()` returns them. */
export type InterfaceList = NodeJS.Dict<NetworkInterfaceInfo[]>;

export interface ClientAclDeps {
  /** The interfaces to take the default networks from (os.networkInterfaces). */
  interfaces: () => InterfaceList;
  now: () => number;
}

export interface ClientAclOptions {
  /** CIDRs that may recurse (`--dns-allow`); absent, loopback and the interfaces' subnets. */
  allow?: string[];
  /** How often, at most, the default networks are read again on a miss (default 10 s). */
  refreshMs?: number;
}

/** Decides whether a client may have names outside the domain resolved. */
export interface ClientAcl {
  allows(address: string): boolean;
  /** The networks allowed now, for the startup log. */
  networks(): string[];
}

const LOOPBACK = ['127.0.0.0/8', '::1/128'];

/** Loopback and every network an interface of this machine is on, as CIDRs. */
export function localNetworks(interfaces: InterfaceList): string[] {
  const out = new Set(LOOPBACK.map((c) => parseCidr(c)!.text));
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      // cidr is null only when the netmask is invalid; such an address is no network to trust.
      const c = a.cidr ? parseCidr(a.cidr.replace(/%[^/]*/, '')) : undefined;
      if (c) out.add(c.text);
    }
  }
  return [...out];
}

/** Parses CIDRs; the ones that are not CIDRs come back in `invalid`, for a usage error. */
export function parseCidrList(list: string[]): { cidrs: Cidr[]; invalid: string[] } {
  const cidrs: Cidr[] = [];
  const invalid: string[] = [];
  for (const text of list) {
    const c = parseCidr(text.trim());
    if (c) cidrs.push(c);
    else invalid.push(text);
  }
  return { cidrs, invalid };
}

/** Creates the recursion ACL: a fixed list, or the machine's own networks. */
export function createClientAcl(deps: ClientAclDeps, opts: ClientAclOptions = {}): ClientAcl {
  const refreshMs = opts.refreshMs ?? 10_000;
  const fixed = opts.allow !== undefined;
  let cidrs: Cidr[] = [];
  let readAt = -Infinity;

  function load(): void {
    const { cidrs: parsed, invalid } = parseCidrList(opts.allow ?? localNetworks(deps.interfaces()));
    if (invalid.length) throw new Error(`not CIDRs: ${invalid.join(', ')}`);
    cidrs = parsed;
    readAt = deps.now();
  }
  load();

  const match = (bytes: Uint8Array) => {
    for (const c of cidrs) if (cidrContains(c, bytes)) return true;
    return false;
  };

  return {
    allows(address) {
      const bytes = parseAddress(address);
      if (!bytes) return false;
      if (match(bytes)) return true;
      if (fixed || deps.now() - readAt < refreshMs) return false;
      load();
      return match(bytes);
    },
    networks: () => cidrs.map((c) => c.text),
  };
}
