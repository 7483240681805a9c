/**
 * Prometheus HTTP service discovery of the nodes themselves (GET
 * /api/v1/sd/nodes): one target group per node the hub knows, scraped
 * through the hub at /metrics/nodes/NAME. Prometheus then scrapes the nodes
 * in parallel, one small exposition each, `up{instance="NAME"}` means that
 * node as it does with node_exporter, and a node that goes offline answers
 * 503, so its target is down and its series end at once.
 *
 * The target is the hub itself, as the SD client reached it: the request's
 * Host header (validated), since Prometheus fetches the list from the same
 * address it will scrape.
 */
import { isIPv6 } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { NodeRecord, Store } from '../store.ts';
import { badRequest } from '../errors.ts';
import type { SdTargetGroup } from './prometheus-sd.ts';

export interface NodeSdDeps {
  store: Pick<Store, 'listNodes'>;
  /** Whether the hub speaks HTTPS: the targets' `__scheme__`. */
  tls: boolean;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * The `host[:port]` of a Host header, or undefined when it is not one: a
 * DNS name or IPv4 address, or a bracketed IPv6 address, and a port from 1
 * to 65535. Nothing else may reach a target list Prometheus dials.
 */
export function hostTarget(header: string | undefined): string | undefined {
  if (!header || header.length > 300) return undefined;
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(header);
  if (!m) return undefined;
  const host = m[1]!;
  if (host.startsWith('[') ? !isIPv6(host.slice(1, -1)) : !HOSTNAME.test(host)) return undefined;
  if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535)) return undefined;
  return header.toLowerCase();
}

/** A node label's key as a Prometheus label name: anything but [a-zA-Z0-9_] becomes `_`. */
export const metaLabelName = (key: string) => `__meta_muster_label_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`;

/** One target group per node, all at `address` (the hub), sorted by name. */
export function buildNodeTargets(nodes: NodeRecord[], address: string, scheme: 'http' | 'https'): SdTargetGroup[] {
  return [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((n) => {
    const labels: Record<string, string> = {};
    // Keys that differ only in characters a label name cannot hold (`a.b`, `a-b`) meet: the first in order wins, every time.
    for (const key of Object.keys(n.facts?.labels ?? {}).sort()) {
      const name = metaLabelName(key);
      if (!(name in labels)) labels[name] = n.facts!.labels[key]!;
    }
    return {
      targets: [address],
      labels: {
        __scheme__: scheme,
        __metrics_path__: `/metrics/nodes/${n.name}`,
        instance: n.name,
        __meta_muster_online: n.online ? 'true' : 'false',
        ...labels,
      },
    };
  });
}

/** Registers GET /api/v1/sd/nodes (guarded like /metrics). */
export function registerNodeSd(app: FastifyInstance, deps: NodeSdDeps, path = '/api/v1/sd/nodes'): void {
  app.get(path, async (req) => {
    const address = hostTarget(req.headers.host);
    if (!address) throw badRequest(`the Host header ${JSON.stringify((req.headers.host ?? '').slice(0, 80))} is not a host[:port] the nodes' targets can name: fetch this list at the address Prometheus scrapes the hub on`);
    return buildNodeTargets(deps.store.listNodes(), address, deps.tls ? 'https' : 'http');
  });
}
