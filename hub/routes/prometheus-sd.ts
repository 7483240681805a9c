/**
 * Prometheus HTTP service discovery (`http_sd_configs`): every running
 * instance of a service that says where its metrics are, through the
 * container label `muster.metrics.port` (or the common `prometheus.io/port`),
 * with `muster.metrics.path` / `prometheus.io/path` for another path. The
 * full list every time; `[]` when there is none.
 */
import type { FastifyInstance } from 'fastify';
import type { Store, NodeRecord } from '../store.ts';
import type { Inventory } from '../inventory.ts';
import { containerServiceName } from '../services.ts';

/** One target group in Prometheus's HTTP SD format. */
export interface SdTargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export interface PrometheusSdDeps {
  store: Pick<Store, 'listNodes'>;
  inventory: Pick<Inventory, 'get'>;
}

const PORT_LABELS = ['muster.metrics.port', 'prometheus.io/port'];
const PATH_LABELS = ['muster.metrics.path', 'prometheus.io/path'];

/** The address other machines reach a node on: its first external IPv4, else IPv6, else anything it has. */
export function nodeAddress(n: NodeRecord): string | undefined {
  const all = n.facts?.addresses ?? [];
  const pick = all.find((a) => !a.internal && a.family === 4) ?? all.find((a) => !a.internal && a.family === 6 && !a.address.startsWith('fe80:')) ?? all[0];
  if (!pick) return undefined;
  return pick.family === 6 ? `[${pick.address}]` : pick.address;
}

/** Builds the target groups from the inventory. */
export function buildSdTargets(nodes: NodeRecord[], inventory: Pick<Inventory, 'get'>): SdTargetGroup[] {
  const groups: SdTargetGroup[] = [];
  for (const n of nodes) {
    if (!n.online) continue;
    const w = inventory.get(n.id);
    const address = nodeAddress(n);
    if (!w || !address) continue;
    for (const c of w.containers.values()) {
      if (c.state !== 'running') continue;
      const portText = PORT_LABELS.map((k) => c.labels[k]).find((v) => v !== undefined);
      const port = Number(portText);
      if (!portText || !Number.isInteger(port) || port < 1 || port > 65535) continue;
      // The container port as published on the node; a host-network container listens on it directly.
      const published = c.ports.find((p) => p.containerPort === port && p.protocol === 'tcp' && p.hostPort !== undefined && p.hostIp !== '::');
      const hostPort = published?.hostPort ?? (c.ports.length === 0 ? port : undefined);
      if (hostPort === undefined) continue;
      const bound = published?.hostIp;
      const host = bound && bound !== '0.0.0.0' && bound !== '::' ? (bound.includes(':') ? `[${bound}]` : bound) : address;
      const path = PATH_LABELS.map((k) => c.labels[k]).find((v) => v !== undefined);
      const service = containerServiceName(c);
      groups.push({
        targets: [`${host}:${hostPort}`],
        labels: {
          instance: `${n.name}:${hostPort}`, node: n.name, service, container: c.name,
          ...(path ? { __metrics_path__: path.startsWith('/') ? path : `/${path}` } : {}),
        },
      });
    }
  }
  return groups.sort((a, b) => a.labels['instance']!.localeCompare(b.labels['instance']!));
}

/** Registers GET `path` (the hub uses /api/v1/sd/prometheus, guarded like /metrics). */
export function registerPrometheusSd(app: FastifyInstance, deps: PrometheusSdDeps, path = '/sd/prometheus'): void {
  app.get(path, async () => buildSdTargets(deps.store.listNodes(), deps.inventory));
}
