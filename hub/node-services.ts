/**
 * Each node's services (buildServices over that node alone), kept until what
 * runs on it changes (the inventory's identityVersion) or it comes or goes.
 * /metrics renders them with the node's series and alerting sums them for
 * service_down; neither rebuilds them for a node whose CPU use merely moved.
 */
import type { Inventory } from './inventory.ts';
import { buildServices, type Service } from './services.ts';

export interface NodeServices {
  /** The node's services; undefined when it never reported workloads. */
  of(node: { id: number; name: string; online: boolean }): Service[] | undefined;
  /** Drops a removed node's entry: SQLite may give its id to the next node. */
  forget(nodeId: number): void;
}

/** Creates an empty cache over the inventory. */
export function createNodeServices(deps: { inventory: Pick<Inventory, 'get' | 'views'> }): NodeServices {
  const cache = new Map<number, { key: string; services: Service[] }>();
  return {
    of(n) {
      const w = deps.inventory.get(n.id);
      if (!w) return undefined;
      const key = `${w.identityVersion}|${n.online ? 1 : 0}`;
      let entry = cache.get(n.id);
      if (entry?.key !== key) cache.set(n.id, (entry = { key, services: buildServices(deps.inventory.views([{ id: n.id, name: n.name, online: n.online }])) }));
      return entry.services;
    },
    forget: (nodeId) => void cache.delete(nodeId),
  };
}
