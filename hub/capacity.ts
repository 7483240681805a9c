/**
 * What each node can take, for placement: its size from its facts, what it
 * really uses (the p95 of the stored samples over the last hour and day, and
 * of the hourly history over the last week),
 * what recent deploys reserved that the samples may not show yet, its taken
 * ports, the images it already holds and how many instances of a service
 * it runs. The scoring itself is pure and lives in hub/placement.ts.
 */
import type { FilesystemUse } from '../protocol/index.ts';
import type { Store } from './store.ts';
import type { SampleHistory } from './sample-history.ts';
import type { Inventory } from './inventory.ts';
import type { JobRecord } from './job-store.ts';
import { buildServices, findService } from './services.ts';
import { parsePlatform, platformOf, type NodeCapacity, type PlacementRequest } from './placement.ts';

export interface CapacityDeps {
  store: Pick<Store, 'listNodes' | 'usePoints' | 'latestSample'>;
  /** Hourly use beyond the 48 h of raw samples, for the week's figure. */
  history: Pick<SampleHistory, 'hourly'>;
  inventory: Pick<Inventory, 'get' | 'views'>;
  /** Recent deploy jobs (newest first); their reservations count until the samples have caught up. */
  recentJobs: () => JobRecord[];
  now: () => number;
}

/** A deploy's reservation counts this long after it was made: by then the hour's p95 shows the service. */
export const RESERVATION_MS = 15 * 60_000;
const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;

/** Where Docker keeps images and containers: the filesystem that holds it is the one deploys fill. */
const DOCKER_ROOT = '/var/lib/docker';

/** The 95th percentile (nearest rank) of the numbers, or undefined for none. */
export function p95(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)];
}

/** The filesystem a path lives on: the longest mountpoint that is a prefix of it. */
export function filesystemOf(filesystems: readonly FilesystemUse[], path: string): FilesystemUse | undefined {
  let best: FilesystemUse | undefined;
  for (const f of filesystems) {
    const m = f.mountpoint.endsWith('/') ? f.mountpoint : `${f.mountpoint}/`;
    if ((path === f.mountpoint || path.startsWith(m) || f.mountpoint === '/') && (!best || f.mountpoint.length > best.mountpoint.length)) best = f;
  }
  return best;
}

/** What a job holds on its node: from the placement request it was placed by, else from the container's limits. */
function reservationOf(job: JobRecord): { cpu: number; memoryBytes: number; diskBytes: number } | undefined {
  if (job.action.kind !== 'run' && job.action.kind !== 'replace') return undefined;
  if (job.state === 'failed' || job.state === 'timed out') return undefined;
  const req = (job.placement as { request?: Partial<PlacementRequest> } | null)?.request;
  return {
    cpu: req?.cpu ?? job.action.container.cpus ?? 0,
    memoryBytes: req?.memoryBytes ?? job.action.container.memoryBytes ?? 0,
    diskBytes: req?.diskBytes ?? 0,
  };
}

/** Builds the capacity of every known node for one placement request. */
export function nodeCapacities(deps: CapacityDeps, service?: string): NodeCapacity[] {
  const t = deps.now();
  const nodes = deps.store.listNodes();
  const reserved = new Map<number, { cpu: number; memoryBytes: number; diskBytes: number }>();
  for (const job of deps.recentJobs()) {
    if (job.nodeId === null || t - job.createdAt > RESERVATION_MS) continue;
    const r = reservationOf(job);
    if (!r) continue;
    const sum = reserved.get(job.nodeId) ?? { cpu: 0, memoryBytes: 0, diskBytes: 0 };
    reserved.set(job.nodeId, { cpu: sum.cpu + r.cpu, memoryBytes: sum.memoryBytes + r.memoryBytes, diskBytes: sum.diskBytes + r.diskBytes });
  }
  const instances = new Map<string, number>();
  if (service) {
    const svc = findService(buildServices(deps.inventory.views(nodes.map((n) => ({ id: n.id, name: n.name, online: n.online })))), service);
    for (const i of svc?.instances ?? []) if (i.healthy) instances.set(i.node, (instances.get(i.node) ?? 0) + 1);
  }
  return nodes.map((n): NodeCapacity => {
    const cores = n.facts?.cpu.cores ?? 0;
    const day = deps.store.usePoints(n.id, t - 24 * HOUR);
    const hour = day.filter((p) => p.ts >= t - HOUR);
    const cpu = (pts: typeof day) => p95(pts.flatMap((p) => (p.cpuUsed === null ? [] : [p.cpuUsed * cores])));
    const mem = (pts: typeof day) => p95(pts.flatMap((p) => (p.memUsed === null ? [] : [p.memUsed])));
    const usage: NodeCapacity['usage'] = {};
    const set = (k: keyof NodeCapacity['usage'], v: number | undefined) => { if (v !== undefined) usage[k] = v; };
    set('cpuP95Hour', cpu(hour));
    set('cpuP95Day', cpu(day));
    set('memP95Hour', mem(hour));
    set('memP95Day', mem(day));
    // The week is read by the hour: raw samples are rolled up after 48 h and the hourly rows keep
    // avg/p95/max, not the samples, so the week's true p95 cannot be had. Its figure is the p95 of
    // the hours' p95s. An hour counts at its own busy tail, where a mean would flatten a spell; the
    // week's top 5% of hours (about 8 of 168) are let go, as the day lets go of its top 72 minutes,
    // so a few hours' weekly backup is not held against the node all week, while a spell that lasts
    // a working day or recurs nightly is. The max of the hours' maxima would let one spike rule.
    const week = deps.history.hourly(n.id, t - WEEK);
    set('cpuP95Week', p95(week.flatMap((h) => (h.cpuP95 === null ? [] : [h.cpuP95 * cores]))));
    set('memP95Week', p95(week.flatMap((h) => (h.memP95 === null ? [] : [h.memP95]))));
    const latest = deps.store.latestSample(n.id);
    const fs = latest ? filesystemOf(latest.data.filesystems, DOCKER_ROOT) : undefined;
    const w = deps.inventory.get(n.id);
    const ports = new Map<string, { port: number; protocol: 'tcp' | 'udp' }>();
    for (const p of w?.ports.values() ?? []) ports.set(`${p.protocol}/${p.port}`, { port: p.port, protocol: p.protocol });
    for (const c of w?.containers.values() ?? []) {
      if (c.state !== 'running') continue;
      for (const p of c.ports) if (p.hostPort && p.protocol !== 'sctp') ports.set(`${p.protocol}/${p.hostPort}`, { port: p.hostPort, protocol: p.protocol });
    }
    const images = new Set<string>();
    for (const c of w?.containers.values() ?? []) images.add(c.image);
    return {
      name: n.name,
      online: n.online,
      // The agent's own platform (it knows arm/v6 from arm/v7); the architecture alone as a fallback.
      platform: n.facts ? parsePlatform(n.facts.platform) ?? platformOf(n.facts.arch) : null,
      labels: n.facts?.labels ?? {},
      cpuCores: cores,
      memoryBytes: n.facts?.memoryBytes ?? 0,
      diskFreeBytes: fs ? fs.availBytes : null,
      usage,
      reserved: reserved.get(n.id) ?? { cpu: 0, memoryBytes: 0, diskBytes: 0 },
      portsInUse: [...ports.values()],
      images: [...images],
      serviceInstances: instances.get(n.name) ?? 0,
    };
  });
}
