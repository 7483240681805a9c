/**
 * The node's IP addresses, from os.networkInterfaces().
 */
import type { NetworkInterfaceInfo } from 'node:os';
import type { AddressFact } from '../../protocol/messages.ts';

/**
 * Flattens os.networkInterfaces() into address facts. Every address is kept,
 * loopback and link-local included, with `internal` set for loopback, so the
 * hub chooses what to publish. Node 18.0-18.3 reported `family` as a number;
 * both spellings are accepted. An all-zero MAC (loopback, tunnels) is no MAC.
 */
export function toAddressFacts(ifaces: NodeJS.Dict<NetworkInterfaceInfo[]>): AddressFact[] {
  const out: AddressFact[] = [];
  for (const [iface, infos] of Object.entries(ifaces)) {
    for (const info of infos ?? []) {
      const raw: unknown = info.family;
      const family = raw === 'IPv4' || raw === 4 ? 4 : raw === 'IPv6' || raw === 6 ? 6 : undefined;
      if (family === undefined) continue;
      const fact: AddressFact = { iface, family, address: info.address, internal: info.internal };
      if (info.mac !== '' && !/^(00:){5}00$/.test(info.mac)) fact.mac = info.mac;
      out.push(fact);
    }
  }
  return out;
}
