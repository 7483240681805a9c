/**
 * Keeps the DNS server's zone in step with the inventory: rebuilt on the
 * first query after any change (an inventory change or a node going
 * offline marks it stale), and at least every few seconds for changes the
 * inventory does not announce (new host facts). Only healthy instances on
 * online nodes make it into service answers.
 */
import type { NodeRecord, Store } from './store.ts';
import type { Inventory } from './inventory.ts';
import { buildServices } from './services.ts';
import { compileZone, type CompiledZone, type ZoneNode, type ZoneSnapshot } from '../dns/zone.ts';

export interface ZoneSourceDeps {
  store: Pick<Store, 'listNodes'>;
  inventory: Pick<Inventory, 'views' | 'subscribe'>;
  now: () => number;
}

/** The current compiled zone and its SOA serial. */
export interface ZoneSource {
  current(): { zone: CompiledZone; serial: number };
  /** Marks the zone stale (for changes outside the inventory). */
  invalidate(): void;
  close(): void;
}

/** A node's addresses for DNS: the ones other machines can reach; loopback only when it has nothing else. */
function nodeAddresses(n: NodeRecord): string[] {
  const all = n.facts?.addresses ?? [];
  const external = all.filter((a) => !a.internal && !a.address.startsWith('fe80:'));
  return (external.length ? external : all).map((a) => a.address);
}

function nodeTxt(n: NodeRecord): string[] {
  const f = n.facts;
  if (!f) return [];
  const txt = [`arch=${f.arch}`, `os=${f.os.prettyName}`, `kernel=${f.kernel}`, `platform=${f.platform}`];
  for (const [k, v] of Object.entries(f.labels)) txt.push(`${k}=${v}`);
  // A TXT string holds at most 255 bytes.
  return txt.map((t) => Buffer.from(t).subarray(0, 255).toString());
}

/** Builds the snapshot DNS answers from: every node, and services with their healthy instances. */
export function buildZoneSnapshot(nodes: NodeRecord[], inventory: Pick<Inventory, 'views'>): ZoneSnapshot {
  const zoneNodes: ZoneNode[] = nodes.map((n) => ({ name: n.name, addresses: nodeAddresses(n), txt: nodeTxt(n) }));
  const services = buildServices(inventory.views(nodes.map((n) => ({ id: n.id, name: n.name, online: n.online })))).map((s) => ({
    name: s.name,
    instances: s.instances.filter((i) => i.healthy).map((i) => ({ node: i.node, ports: i.ports.map((p) => ({ port: p.port, protocol: p.protocol })) })),
  }));
  return { nodes: zoneNodes, services };
}

/** Creates the source; it listens to the inventory until close(). */
export function createZoneSource(deps: ZoneSourceDeps, opts: { maxAgeMs?: number } = {}): ZoneSource {
  const maxAgeMs = opts.maxAgeMs ?? 5_000;
  let cached: { zone: CompiledZone; serial: number; builtAt: number } | undefined;
  let serial = 0;
  const unsubscribe = deps.inventory.subscribe(() => { cached = undefined; });
  return {
    current() {
      const t = deps.now();
      if (!cached || t - cached.builtAt >= maxAgeMs) {
        // The serial only has to grow; seconds since the epoch do, and survive restarts.
        serial = Math.max(serial + 1, Math.floor(t / 1000));
        cached = { zone: compileZone(buildZoneSnapshot(deps.store.listNodes(), deps.inventory)), serial, builtAt: t };
      }
      return { zone: cached.zone, serial: cached.serial };
    },
    invalidate() { cached = undefined; },
    close: () => { unsubscribe(); },
  };
}
