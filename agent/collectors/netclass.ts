/**
 * node_exporter's `netclass` collector: each network interface's state and
 * properties from /sys/class/net (up, carrier, speed, MTU, MAC...), the
 * numbers as node_network_<property> and the text as node_network_info.
 */
import { listDir, readFileAt, tryReadSys } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** The numeric attributes, the family each gives and whether it is a counter, in node_exporter's order. */
const NUMERIC = [
  ['addr_assign_type', 'address_assign_type', false],
  ['carrier', 'carrier', false],
  ['carrier_changes', 'carrier_changes_total', true],
  ['carrier_up_count', 'carrier_up_changes_total', true],
  ['carrier_down_count', 'carrier_down_changes_total', true],
  ['dev_id', 'device_id', false],
  ['dormant', 'dormant', false],
  ['flags', 'flags', false],
  ['ifindex', 'iface_id', false],
  ['iflink', 'iface_link', false],
  ['link_mode', 'iface_link_mode', false],
  ['mtu', 'mtu_bytes', false],
  ['name_assign_type', 'name_assign_type', false],
  ['netdev_group', 'net_dev_group', false],
  ['speed', 'speed_bytes', false],
  ['tx_queue_len', 'transmit_queue_length', false],
  ['type', 'protocol_type', false],
] as const;

/** The text attributes of node_network_info. */
const TEXT = ['address', 'broadcast', 'duplex', 'operstate', 'ifalias'] as const;

/** Parses an integer attribute as Go's ParseInt(s, 0, 64) does: `0x1003` is hexadecimal. */
export function parseSysInt(text: string): number | undefined {
  const t = text.trim();
  if (/^-?0x[0-9a-f]+$/i.test(t)) return (t.startsWith('-') ? -1 : 1) * parseInt(t.replace(/^-/, ''), 16);
  if (/^-?\d+$/.test(t)) return Number(t);
  return undefined;
}

/** One interface's attributes as read; unreadable ones (EINVAL from a link that is down) are missing. */
export type NetClassAttrs = Map<string, string>;

/** Reads the attributes node_exporter reports of one interface. */
export function readNetClass(root: string, device: string): NetClassAttrs {
  const attrs: NetClassAttrs = new Map();
  for (const name of [...NUMERIC.map(([f]) => f), ...TEXT]) {
    try {
      attrs.set(name, readFileAt(root, `/sys/class/net/${device}/${name}`).trim());
    } catch {
      // absent, or refused while the link is down (speed, duplex): node_exporter leaves it out too
    }
  }
  return attrs;
}

/** Read every interval: a link event moves one of these first. The rest is read again when they moved. */
const WATCHED = ['operstate', 'carrier_changes'] as const;
/** ... and every this many intervals in any case. */
const FULL_EVERY = 30;

export const netclassCollector: CollectorSpec = {
  name: 'netclass',
  reads: '/sys/class/net/*/{operstate,carrier,speed,mtu,address,...}',
  enabled: true,
  every: 1,
  maxSeries: 20 * 1024,
  whenAbsent: 'nodata',
  create(ctx) {
    // About twenty sysfs reads per interface (~20 us each): a Docker host's veths would make this the agent's costliest collector.
    const known = new Map<string, { attrs: NetClassAttrs; watched: string; runs: number }>();
    const attrsOf = (device: string): NetClassAttrs => {
      const watched = WATCHED.map((f) => tryReadSys(ctx.root, `/sys/class/net/${device}/${f}`) ?? '').join('\u0000');
      const have = known.get(device);
      if (have && have.watched === watched && ++have.runs < FULL_EVERY) return have.attrs;
      const attrs = readNetClass(ctx.root, device);
      known.set(device, { attrs, watched, runs: 0 });
      return attrs;
    };
    return (out) => {
      const up = out.gauge('node_network_up', 'Value is 1 if operstate is \'up\', 0 otherwise.', ['device']);
      const info = out.gauge('node_network_info', 'Non-numeric data from /sys/class/net/<iface>, value is always 1.', ['device', 'address', 'broadcast', 'duplex', 'operstate', 'ifalias']);
      const fams = NUMERIC.map(([, name, counter]) => (counter ? out.counter : out.gauge)(`node_network_${name}`, `Network device property: ${name}`, ['device']));
      const devices = listDir(ctx.root, '/sys/class/net').filter((d) => d !== 'bonding_masters');
      for (const d of known.keys()) if (!devices.includes(d)) known.delete(d);
      for (const device of devices) {
        const a = attrsOf(device);
        if (a.size === 0) continue; // gone since the listing, or not an interface
        up(a.get('operstate') === 'up' ? 1 : 0, device);
        info(1, device, a.get('address') ?? '', a.get('broadcast') ?? '', a.get('duplex') ?? '', a.get('operstate') ?? '', a.get('ifalias') ?? '');
        NUMERIC.forEach(([file, name], i) => {
          const raw = a.get(file);
          if (raw === undefined) return;
          const n = parseSysInt(raw);
          if (n === undefined) return;
          // Mb/s -> bytes/s; -1 (unknown, a virtual link) stays negative, as node_exporter 1.5 exports it.
          fams[i]!(name === 'speed_bytes' ? Math.trunc((n * 1000 * 1000) / 8) : n, device);
        });
      }
    };
  },
};
