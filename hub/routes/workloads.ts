/**
 * API routes for what runs where: services and their instances, each node's
 * processes, containers, units and ports, and the event history. Registered
 * inside the authenticated /api/v1 scope by buildServer.
 */
import type { FastifyInstance } from 'fastify';
import type { Store, NodeRecord } from '../store.ts';
import type { Inventory } from '../inventory.ts';
import type { WorkloadStore } from '../workload-store.ts';
import { badRequest, nodeNotFound, serviceNotFound } from '../errors.ts';
import { buildServices, closeMatches, findService, type Service, type ServiceInstance } from '../services.ts';
import { nodeDnsName, serviceDnsName } from '../../dns/names.ts';
import { parseDuration } from '../durations.ts';

export interface WorkloadRoutesDeps {
  store: Pick<Store, 'listNodes' | 'getNodeByName'>;
  inventory: Pick<Inventory, 'get' | 'views'>;
  events: Pick<WorkloadStore, 'listEvents'>;
  now: () => number;
  /** The DNS domain names are shown under (`internal`). */
  domain: string;
}

/** An instance as the API shows it. */
export interface ServiceInstanceView extends Omit<ServiceInstance, 'since'> {
  nodeDnsName: string;
  since?: string;
}

/** A service as the API shows it. */
export interface ServiceView {
  name: string;
  dnsName: string;
  /** Instances that are healthy (node online, running, health check passing). */
  running: number;
  total: number;
  instances: ServiceInstanceView[];
}

/** One event as the API shows it. */
export interface EventView {
  id: number;
  ts: string;
  node: string | null;
  kind: string;
  subject: string;
  service: string | null;
  detail: Record<string, unknown>;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** Parses `since`: ms since the epoch, an ISO time, or a duration back from now (`15m`, `2h`). */
export function parseSince(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d{10,}$/.test(value)) return Number(value);
  const ago = parseDuration(value);
  if (ago !== undefined) return now - ago;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw badRequest(`since must be a duration (15m, 2h, 7d), an ISO time, or ms since the epoch, not ${JSON.stringify(value)}`);
  return t;
}

/** Registers the routes on an /api/v1 scope. */
export function registerWorkloadRoutes(api: FastifyInstance, deps: WorkloadRoutesDeps): void {
  const { store, inventory, domain } = deps;

  const services = (): Service[] => buildServices(inventory.views(store.listNodes()));

  const serviceView = (s: Service): ServiceView => ({
    name: s.name,
    dnsName: serviceDnsName(s.name, domain),
    running: s.instances.filter((i) => i.healthy).length,
    total: s.instances.length,
    instances: s.instances.map(({ since, ...i }) => ({
      ...i,
      nodeDnsName: nodeDnsName(i.node, domain),
      ...(since !== undefined ? { since: iso(since)! } : {}),
    })),
  });

  const nodeOf = (name: string): NodeRecord => {
    const n = store.getNodeByName(name);
    if (!n) throw nodeNotFound(`no node named '${name}'`);
    return n;
  };

  api.get('/services', async () => ({ services: services().map(serviceView) }));

  api.get<{ Params: { name: string } }>('/services/:name', async (req) => {
    const all = services();
    const found = findService(all, req.params.name);
    if (!found) {
      const suggestions = closeMatches(all.map((s) => s.name), req.params.name);
      throw serviceNotFound(`no service named '${req.params.name}'`, undefined, { suggestions });
    }
    return serviceView(found);
  });

  api.get<{ Params: { name: string } }>('/nodes/:name/processes', async (req) => {
    const n = nodeOf(req.params.name);
    const w = inventory.get(n.id);
    const processes = [...(w?.processes.values() ?? [])].sort((a, b) => a.pid - b.pid)
      .map((p) => ({ ...p, startTime: iso(p.startTime * 1000) }));
    return { node: n.name, online: n.online, collector: w?.collectors.processes ?? null, processes };
  });

  api.get<{ Params: { name: string } }>('/nodes/:name/containers', async (req) => {
    const n = nodeOf(req.params.name);
    const w = inventory.get(n.id);
    const containers = [...(w?.containers.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name))
      .map((c) => ({ ...c, startedAt: iso(c.startedAt), finishedAt: iso(c.finishedAt), use: w?.use.get(c.id) ?? null }));
    return { node: n.name, online: n.online, collector: w?.collectors.containers ?? null, containers };
  });

  api.get<{ Params: { name: string } }>('/nodes/:name/units', async (req) => {
    const n = nodeOf(req.params.name);
    const w = inventory.get(n.id);
    const units = [...(w?.units.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name)).map((u) => ({ ...u, since: iso(u.since) }));
    return { node: n.name, online: n.online, collector: w?.collectors.units ?? null, units };
  });

  api.get<{ Params: { name: string } }>('/nodes/:name/ports', async (req) => {
    const n = nodeOf(req.params.name);
    const w = inventory.get(n.id);
    const ports = [...(w?.ports.values() ?? [])].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol) || a.address.localeCompare(b.address));
    return { node: n.name, online: n.online, collector: w?.collectors.ports ?? null, ports };
  });

  api.get<{ Querystring: { since?: string; until?: string; node?: string; kind?: string; limit?: string } }>('/events', async (req) => {
    const now = deps.now();
    const since = parseSince(req.query.since, now);
    const until = parseSince(req.query.until, now);
    const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw badRequest('limit must be an integer from 1 to 10000');
    if (req.query.kind !== undefined && !/^[a-z.]{1,64}$/.test(req.query.kind)) throw badRequest('kind must look like container, container.died or unit.failed');
    const nodeId = req.query.node === undefined ? undefined : nodeOf(req.query.node).id;
    const events = deps.events.listEvents({
      limit,
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(nodeId !== undefined ? { nodeId } : {}),
      ...(req.query.kind !== undefined ? { kind: req.query.kind } : {}),
    });
    return { events: events.map((e): EventView => ({ id: e.id, ts: new Date(e.ts).toISOString(), node: e.node, kind: e.kind, subject: e.subject, service: e.service, detail: e.detail })) };
  });
}
