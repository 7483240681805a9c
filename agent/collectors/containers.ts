/**
 * Docker containers through the Engine API on the local socket: what each
 * container is (inspect), what it uses (one-shot stats), and the event stream,
 * so a start, stop or crash is reported within seconds instead of at the next
 * sample. Inspects are cached and redone only when the list shows a new state
 * or an event names the container.
 */
import { statSync } from 'node:fs';
import type { ContainerInfo, ContainerUse, PublishedPort } from '../../protocol/workloads.ts';
import { MAX_CMDLINE } from '../../protocol/plain.ts';
import { redactArgs, redactLabels } from '../../protocol/redact.ts';
import type { DockerClient, DockerError, DockerEvent, EventSubscription } from '../docker-client.ts';
import type { ContainerCgroupUse } from './container-cgroups.ts';
import { truncate } from './read.ts';
import { byCodeUnit } from '../compare.ts';

/** Docker's port map: `"80/tcp"` to its host bindings (null when not published). */
export type DockerPortMap = Record<string, { HostIp?: string; HostPort?: string }[] | null> | null | undefined;

/** The parts of GET /containers/{id}/json the agent reads. */
export interface DockerInspect {
  Id: string;
  Name?: string;
  Path?: string;
  Args?: string[];
  Image?: string;
  Config?: { Image?: string; Labels?: Record<string, string> | null };
  State?: {
    Status?: string; Pid?: number; ExitCode?: number; StartedAt?: string; FinishedAt?: string;
    Health?: { Status?: string } | null;
  };
  RestartCount?: number;
  HostConfig?: {
    RestartPolicy?: { Name?: string };
    Memory?: number;
    PortBindings?: DockerPortMap;
  };
  NetworkSettings?: { Ports?: DockerPortMap };
}

/** The parts of GET /containers/json (the list) the agent reads. */
export interface DockerListEntry {
  Id: string;
  State?: string;
}

/** The parts of GET /containers/{id}/stats the agent reads. */
export interface DockerStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
}

/** Docker writes this for a time that never happened (a container never started). */
const ZERO_TIME = /^0001-01-01/;

function parseTime(s: string | undefined): number | undefined {
  if (!s || ZERO_TIME.test(s)) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

function parsePorts(map: DockerPortMap): PublishedPort[] {
  const out: PublishedPort[] = [];
  for (const [spec, bindings] of Object.entries(map ?? {})) {
    const m = /^(\d+)\/(tcp|udp|sctp)$/.exec(spec);
    if (!m) continue;
    const containerPort = Number(m[1]);
    const protocol = m[2] as PublishedPort['protocol'];
    if (!bindings || bindings.length === 0) {
      out.push({ containerPort, protocol });
      continue;
    }
    for (const b of bindings) {
      const hostPort = b.HostPort ? Number(b.HostPort) : undefined;
      out.push({
        containerPort, protocol,
        ...(hostPort !== undefined && Number.isInteger(hostPort) ? { hostPort } : {}),
        ...(b.HostIp ? { hostIp: b.HostIp } : {}),
      });
    }
  }
  return out.sort((a, b) => a.containerPort - b.containerPort || byCodeUnit(a.protocol, b.protocol) || byCodeUnit(a.hostIp ?? '', b.hostIp ?? ''));
}

/**
 * Turns an inspect document into the wire record. A running container shows
 * the ports Docker actually bound; a stopped one the bindings it asks for.
 * Secrets in its command and labels are redacted.
 */
export function toContainerInfo(ins: DockerInspect, digest: string | undefined): ContainerInfo {
  const state = ins.State?.Status ?? 'unknown';
  const labels = ins.Config?.Labels ?? {};
  const running = state === 'running' || state === 'paused' || state === 'restarting';
  const ports = parsePorts(running ? ins.NetworkSettings?.Ports : ins.HostConfig?.PortBindings);
  // Secrets in the command (`--requirepass x`) and in labels named like one never leave the node.
  const command = redactArgs([ins.Path ?? '', ...(ins.Args ?? [])]).join(' ').trim();
  const startedAt = parseTime(ins.State?.StartedAt);
  const finishedAt = parseTime(ins.State?.FinishedAt);
  const project = labels['com.docker.compose.project'];
  const service = labels['com.docker.compose.service'];
  return {
    id: ins.Id,
    name: (ins.Name ?? '').replace(/^\//, ''),
    image: ins.Config?.Image ?? ins.Image ?? '',
    imageId: ins.Image ?? '',
    ...(digest ? { digest } : {}),
    command: truncate(command, MAX_CMDLINE),
    state,
    health: ins.State?.Health?.Status ?? 'none',
    ...(state !== 'running' && state !== 'created' && ins.State?.ExitCode !== undefined ? { exitCode: ins.State.ExitCode } : {}),
    ...(startedAt !== undefined ? { startedAt } : {}),
    ...(finishedAt !== undefined ? { finishedAt } : {}),
    restartCount: ins.RestartCount ?? 0,
    restartPolicy: ins.HostConfig?.RestartPolicy?.Name || 'no',
    pid: running ? ins.State?.Pid ?? 0 : 0,
    ports,
    labels: redactLabels(labels),
    ...(project ? { composeProject: project } : {}),
    ...(service ? { composeService: service } : {}),
  };
}

/**
 * Turns one-shot stats into the wire record. The working set is usage minus
 * inactive file cache, as cAdvisor computes it (`inactive_file` on cgroup v2,
 * `total_inactive_file` on v1).
 */
export function toContainerUse(id: string, stats: DockerStats, memoryLimitBytes: number | undefined): ContainerUse {
  const usage = stats.memory_stats?.usage ?? 0;
  const inactive = stats.memory_stats?.stats?.['inactive_file'] ?? stats.memory_stats?.stats?.['total_inactive_file'] ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(stats.networks ?? {})) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  return {
    id,
    cpuSeconds: (stats.cpu_stats?.cpu_usage?.total_usage ?? 0) / 1e9,
    memoryBytes: usage,
    workingSetBytes: Math.max(0, usage - inactive),
    ...(memoryLimitBytes ? { memoryLimitBytes } : {}),
    rxBytes: rx,
    txBytes: tx,
  };
}

/** What one read found, or why Docker could not be asked. */
export type ContainerReading =
  | { ok: true; containers: ContainerInfo[]; use: ContainerUse[] }
  | { ok: false; reason: string };

export interface ContainerReaderDeps {
  docker: DockerClient;
  /**
   * What each running container used, by id, as the cAdvisor collector last
   * read it from the cgroups (container-cgroups.ts). Given, the reader asks
   * Docker for no one-shot stats; absent (that collector switched off), it does.
   */
  cgroupUse?: () => ReadonlyMap<string, ContainerCgroupUse>;
  /** Called when the event stream reports a change, so the caller can read again now. */
  onChange?: () => void;
  /** For the event stream's reconnect delay. */
  setTimer?: (fn: () => void, ms: number) => NodeJS.Timeout;
}

/** Reads containers and follows Docker's events while Docker is there. */
export interface ContainerReader {
  /** Containers now; use as of the previous read's stats (empty on the first read). */
  read(): Promise<ContainerReading>;
  /** Resolves when the stats requested by the last read have arrived (for tests and shutdown). */
  settled(): Promise<void>;
  /** The containers running as of the last read (the metrics collector reads their cgroups). */
  running(): ContainerInfo[];
  close(): void;
}

interface Cached {
  listState: string;
  info: ContainerInfo;
  memoryLimit: number | undefined;
}

/**
 * Reads that may reuse the last container list while Docker's event stream is
 * up and has said nothing: every change to a container comes as an event
 * there, and a list is an HTTP round trip to the Engine every interval (on an
 * idle node the largest part of what the agent's container reading costs).
 * The list is asked again at least this often, in case an event was lost.
 */
export const LIST_EVERY_QUIET_READS = 6;

/**
 * Reads that do not ask an unreachable Docker Engine again while its socket
 * file stays as it was: on a node where Docker is not installed, or stopped
 * with its socket left behind, every read was a failed HTTP request (a
 * socket, a request, an error), a tenth of the idle agent's CPU. A daemon
 * that starts binds a new socket file (a new inode), and that is seen at the
 * next read; whatever else changed, the Engine is asked again this often.
 */
export const ASK_UNREACHABLE_EVERY_READS = 30;

/** The socket file as it is now: absent, or its inode and change time; undefined when it cannot be looked at. */
function socketFile(path: string): string | undefined {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    return st === undefined ? 'absent' : `${st.ino} ${st.ctimeMs}`;
  } catch {
    return undefined;
  }
}

/** Creates the reader; the event stream starts with the first successful read. */
export function createContainerReader(deps: ContainerReaderDeps): ContainerReader {
  const { docker } = deps;
  const setTimer = deps.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const cache = new Map<string, Cached>();
  const digests = new Map<string, string | undefined>();
  const dirty = new Set<string>();
  /** Containers someone stopped or killed since they last started (from the event stream). */
  const stopRequested = new Set<string>();
  let latestUse = new Map<string, ContainerUse>();
  let statsInFlight: Promise<void> | undefined;
  let subscription: EventSubscription | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryMs = 1_000;
  let closed = false;
  let lastList: DockerListEntry[] | undefined;
  /** Something may have changed since the last list: an event, or a stream (re)started, which may have missed some. */
  let changed = true;
  let quietReads = 0;
  /** Why the Engine could not be reached, the socket file as it was then, and the reads answered from it since. */
  let unreachable: { reason: string; socket: string; reads: number } | undefined;

  const subscribe = () => {
    if (closed || subscription) return;
    changed = true;
    subscription = docker.events({ type: ['container'] }, (e: DockerEvent) => {
      retryMs = 1_000;
      changed = true;
      const id = e.Actor?.ID;
      if (id) {
        dirty.add(id);
        // `docker stop` and `docker kill` send 'kill' before the container dies; a crash sends only 'die'.
        if (e.Action === 'kill' || e.Action === 'stop') stopRequested.add(id);
        else if (e.Action === 'start' || e.Action === 'destroy') stopRequested.delete(id);
      }
      // exec_* events fire for every `docker exec` and change nothing we report.
      if (e.Action && !e.Action.startsWith('exec_')) deps.onChange?.();
    }, () => {
      subscription = undefined;
      changed = true;
      if (closed) return;
      // The daemon went away or restarted: read again on reconnect; the next read resubscribes.
      retryTimer = setTimer(() => { retryTimer = undefined; deps.onChange?.(); }, retryMs);
      retryTimer.unref?.();
      retryMs = Math.min(30_000, retryMs * 2);
    });
  };

  async function digestOf(imageId: string): Promise<string | undefined> {
    if (!imageId) return undefined;
    if (digests.has(imageId)) return digests.get(imageId);
    let digest: string | undefined;
    try {
      const img = await docker.get<{ RepoDigests?: string[] | null }>(`/images/${encodeURIComponent(imageId)}/json`);
      digest = img.RepoDigests?.[0];
    } catch {
      digest = undefined; // an image removed under a container still running: report none
    }
    digests.set(imageId, digest);
    return digest;
  }

  async function inspect(id: string, listState: string): Promise<Cached | undefined> {
    dirty.delete(id);
    let ins: DockerInspect;
    try {
      ins = await docker.get<DockerInspect>(`/containers/${encodeURIComponent(id)}/json`);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined; // removed meanwhile
      throw err;
    }
    const info = toContainerInfo(ins, await digestOf(ins.Image ?? ''));
    const limit = ins.HostConfig?.Memory;
    return { listState, info, memoryLimit: limit && limit > 0 ? limit : undefined };
  }

  async function statsOf(c: Cached): Promise<ContainerUse | undefined> {
    try {
      const s = await docker.get<DockerStats>(`/containers/${encodeURIComponent(c.info.id)}/stats?stream=false&one-shot=true`);
      return toContainerUse(c.info.id, s, c.memoryLimit);
    } catch {
      return undefined; // stopped between the list and the stats
    }
  }

  return {
    async read() {
      let list: DockerListEntry[];
      if (lastList && subscription && !changed && ++quietReads < LIST_EVERY_QUIET_READS) {
        list = lastList;
      } else {
        // Looked at before asking: a daemon that binds its socket during the request is a change the next read sees.
        const socket = socketFile(docker.socketPath);
        if (unreachable && ++unreachable.reads < ASK_UNREACHABLE_EVERY_READS && socket === unreachable.socket) return { ok: false, reason: unreachable.reason };
        unreachable = undefined;
        // Cleared before asking: an event during the request means the next read asks again.
        changed = false;
        quietReads = 0;
        try {
          list = await docker.get<DockerListEntry[]>('/containers/json?all=1');
        } catch (err) {
          lastList = undefined;
          const reason = `Docker Engine not reachable at ${docker.socketPath}: ${(err as Error).message}`;
          // Only when nothing answers at the socket (none there, refused, not ours to open); an Engine that erred is asked again.
          if (socket !== undefined && (err as DockerError).code === 'MUSTER_ERR_DOCKER_UNREACHABLE') unreachable = { reason, socket, reads: 0 };
          return { ok: false, reason };
        }
        lastList = list;
      }
      subscribe();
      const seen = new Set<string>();
      const fresh = await Promise.all(list.map(async (entry) => {
        seen.add(entry.Id);
        const listState = entry.State ?? '';
        const cached = cache.get(entry.Id);
        if (cached && cached.listState === listState && !dirty.has(entry.Id)) return cached;
        try {
          return await inspect(entry.Id, listState);
        } catch {
          return cached;
        }
      }));
      for (const id of cache.keys()) if (!seen.has(id)) cache.delete(id);
      for (const id of stopRequested) if (!seen.has(id)) stopRequested.delete(id);
      const containers: ContainerInfo[] = [];
      const active: Cached[] = [];
      for (const c of fresh) {
        if (!c) continue;
        cache.set(c.info.id, c);
        const running = c.info.state === 'running';
        containers.push(!running && stopRequested.has(c.info.id) ? { ...c.info, stopRequested: true } : c.info);
        if (running) active.push(c);
      }
      if (deps.cgroupUse) {
        // As of the collector's last run, a few ms to one interval old: as the stats below are.
        const latest = deps.cgroupUse();
        const use: ContainerUse[] = [];
        for (const c of active) {
          const u = latest.get(c.info.id);
          if (u) use.push({ id: c.info.id, ...u, ...(c.memoryLimit ? { memoryLimitBytes: c.memoryLimit } : {}) });
        }
        return { ok: true, containers, use };
      }
      // Docker answers a one-shot stats request only at its next collection tick (up to 1 s later),
      // so stats are fetched beside the read and reported by the next one: a container change is
      // never held back by them.
      statsInFlight ??= Promise.all(active.map(statsOf)).then((list) => {
        latestUse = new Map(list.filter((u): u is ContainerUse => u !== undefined).map((u) => [u.id, u]));
      }).finally(() => { statsInFlight = undefined; });
      const use = active.map((c) => latestUse.get(c.info.id)).filter((u): u is ContainerUse => u !== undefined);
      return { ok: true, containers, use };
    },
    settled: async () => { await statsInFlight; },
    running: () => [...cache.values()].filter((c) => c.info.state === 'running').map((c) => c.info),
    close() {
      closed = true;
      subscription?.close();
      subscription = undefined;
      clearTimeout(retryTimer);
    },
  };
}
