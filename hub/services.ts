/**
 * Joins what runs on every node into services. A service is a name people
 * type; its instances are the containers, systemd units and bare listening
 * processes that carry that name, on whichever nodes they run. Names come, in
 * this order, from the container label `muster.service`, the compose service,
 * the container name, the unit name without `.service`, and the name of a
 * bare process that listens on a port.
 */
import type { ContainerInfo, ContainerUse, ListenPort, ProcessInfo, UnitInfo } from '../protocol/index.ts';
import { dnsLabel } from '../dns/names.ts';

/** The label that names a container's service outright. */
export const SERVICE_LABEL = 'muster.service';

/** One node's workloads, as the inventory holds them. */
export interface NodeWorkloadView {
  node: string;
  online: boolean;
  processes: ReadonlyMap<string, ProcessInfo>;
  containers: ReadonlyMap<string, ContainerInfo>;
  units: ReadonlyMap<string, UnitInfo>;
  ports: ReadonlyMap<string, ListenPort>;
  use: ReadonlyMap<string, ContainerUse>;
}

/** A port an instance can be reached on, from its node. */
export interface InstancePort {
  port: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  /** The address it is bound to on the node (`0.0.0.0`, `127.0.0.1`), when known. */
  address?: string;
  /** For a container: the port inside it. */
  containerPort?: number;
}

/** One place a service runs. */
export interface ServiceInstance {
  node: string;
  nodeOnline: boolean;
  kind: 'container' | 'unit' | 'process';
  /** Container id, unit name, or pid as text. */
  id: string;
  /** Container name, unit name, or process name. */
  name: string;
  /** Docker's state, the unit's `active/sub`, or `running` for a process. */
  state: string;
  /** healthy, unhealthy, starting, or none. */
  health: string;
  /** True when traffic should go here: node online, running, and not failing a health check. */
  healthy: boolean;
  ports: InstancePort[];
  image?: string;
  digest?: string;
  command?: string;
  composeProject?: string;
  composeService?: string;
  unit?: string;
  pid?: number;
  user?: string;
  restarts: number;
  exitCode?: number;
  /** Since when it is in its current state (ms since the epoch), when known. */
  since?: number;
  labels?: Record<string, string>;
  cpuSeconds?: number;
  memoryBytes?: number;
}

/** A service and every instance of it. */
export interface Service {
  name: string;
  /** The DNS label the service is known by (`<label>.service.<domain>`). */
  dnsLabel: string;
  instances: ServiceInstance[];
}

/** Interpreters whose process name says nothing about the program they run. */
const INTERPRETERS = /^(node|nodejs|python[0-9.]*|java|ruby[0-9.]*|perl[0-9.]*|php[0-9.-]*|bun|deno|dotnet|beam\.smp|sh|bash)$/;

/** The service a container belongs to: label, compose service, or its name. */
export function containerServiceName(c: Pick<ContainerInfo, 'labels' | 'composeService' | 'name'>): string {
  const label = c.labels[SERVICE_LABEL]?.trim();
  return label || c.composeService || c.name;
}

/** The service a unit stands for: its name without `.service`. */
export function unitServiceName(unit: string): string {
  return unit.replace(/\.service$/, '');
}

/**
 * The program a process runs: its kernel name, unless the command line shows
 * an interpreter (Node 24 names its main thread `MainThread`, and `python3`
 * says nothing anyway).
 */
export function programName(p: Pick<ProcessInfo, 'name' | 'cmdline'>): string {
  const argv0 = basename(p.cmdline.split(' ')[0] ?? '', false);
  return INTERPRETERS.test(argv0) ? argv0 : p.name;
}

/**
 * The service of a bare process: its program, or for an interpreter (`node
 * server.js`, `python3 -m http.server`) the script or module it runs.
 */
export function processServiceName(p: Pick<ProcessInfo, 'name' | 'cmdline'>): string {
  const program = programName(p);
  if (!INTERPRETERS.test(program)) return program;
  const args = p.cmdline.split(' ').slice(1);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-m' && args[i + 1]) return args[i + 1]!;
    if (a === '-jar' && args[i + 1]) return basename(args[i + 1]!);
    if (a === '-e' || a === '-c') return program; // inline code: nothing better to go on
    if (a.startsWith('-')) continue;
    return basename(a) || program;
  }
  return program;
}

function basename(path: string, dropExtension = true): string {
  const file = path.split('/').pop() ?? path;
  return dropExtension ? file.replace(/\.(m?js|cjs|ts|py|rb|pl|php|jar)$/, '') : file;
}

/** Units worth listing as instances: loaded services that run, start, stop or failed. */
function unitIsInstance(u: UnitInfo): boolean {
  return u.name.endsWith('.service') && u.loadState === 'loaded' && u.activeState !== 'inactive';
}

/** docker-proxy holds a container's published ports on the host; the container already shows them. */
const PROXY = 'docker-proxy';

function sortPorts(ports: InstancePort[]): InstancePort[] {
  const seen = new Set<string>();
  return ports
    .filter((p) => {
      const k = `${p.protocol}/${p.port}/${p.address ?? ''}/${p.containerPort ?? ''}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol) || (a.address ?? '').localeCompare(b.address ?? ''));
}

/**
 * A container's ports: what it publishes, plus sockets its processes hold in
 * the host's network namespace (`network_mode: host`).
 */
function containerInstance(node: NodeWorkloadView, c: ContainerInfo, hostPorts: InstancePort[]): ServiceInstance {
  const use = node.use.get(c.id);
  const running = c.state === 'running';
  return {
    node: node.node,
    nodeOnline: node.online,
    kind: 'container',
    id: c.id,
    name: c.name,
    state: c.state,
    health: c.health,
    healthy: node.online && running && (c.health === 'none' || c.health === 'healthy'),
    ports: sortPorts([...c.ports.filter((p) => p.hostPort !== undefined).map((p) => ({
      port: p.hostPort!, protocol: p.protocol, containerPort: p.containerPort, ...(p.hostIp ? { address: p.hostIp } : {}),
    })), ...hostPorts]),
    image: c.image,
    ...(c.digest ? { digest: c.digest } : {}),
    command: c.command,
    ...(c.composeProject ? { composeProject: c.composeProject } : {}),
    ...(c.composeService ? { composeService: c.composeService } : {}),
    ...(c.pid ? { pid: c.pid } : {}),
    restarts: c.restartCount,
    ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
    ...((running ? c.startedAt : c.finishedAt) !== undefined ? { since: (running ? c.startedAt : c.finishedAt)! } : {}),
    labels: c.labels,
    ...(use && running ? { cpuSeconds: use.cpuSeconds, memoryBytes: use.workingSetBytes } : {}),
  };
}

/** Builds every service from every node's workloads, sorted by name. */
export function buildServices(nodes: Iterable<NodeWorkloadView>): Service[] {
  const byName = new Map<string, ServiceInstance[]>();
  const add = (name: string, inst: ServiceInstance) => {
    const key = name.toLowerCase();
    let list = byName.get(key);
    if (!list) byName.set(key, (list = []));
    list.push(inst);
  };
  const displayName = new Map<string, string>();
  const remember = (name: string) => { if (!displayName.has(name.toLowerCase())) displayName.set(name.toLowerCase(), name); };

  for (const node of nodes) {
    // Listening sockets by who holds them.
    const containerPorts = new Map<string, InstancePort[]>();
    const unitPorts = new Map<string, InstancePort[]>();
    const processPorts = new Map<number, InstancePort[]>();
    for (const p of node.ports.values()) {
      if (p.process === PROXY) continue;
      const port: InstancePort = { port: p.port, protocol: p.protocol, address: p.address };
      const unit = p.owner.unit;
      if (p.owner.containerId) {
        containerPorts.set(p.owner.containerId, [...(containerPorts.get(p.owner.containerId) ?? []), port]);
      } else if (unit && node.units.has(unit) && unit.endsWith('.service')) {
        unitPorts.set(unit, [...(unitPorts.get(unit) ?? []), port]);
      } else if (p.pid !== undefined) {
        processPorts.set(p.pid, [...(processPorts.get(p.pid) ?? []), port]);
      }
    }
    for (const c of node.containers.values()) {
      const name = containerServiceName(c);
      remember(name);
      add(name, containerInstance(node, c, containerPorts.get(c.id) ?? []));
    }
    for (const u of node.units.values()) {
      if (!unitIsInstance(u)) continue;
      const name = unitServiceName(u.name);
      remember(name);
      const main = u.mainPid ? node.processes.get(String(u.mainPid)) : undefined;
      add(name, {
        node: node.node,
        nodeOnline: node.online,
        kind: 'unit',
        id: u.name,
        name: u.name,
        state: `${u.activeState}/${u.subState}`,
        health: u.activeState === 'failed' ? 'unhealthy' : 'none',
        healthy: node.online && (u.activeState === 'active' || u.activeState === 'reloading'),
        ports: sortPorts(unitPorts.get(u.name) ?? []),
        unit: u.name,
        ...(u.mainPid ? { pid: u.mainPid } : {}),
        ...(main ? { command: main.cmdline, user: main.user, cpuSeconds: main.cpuSeconds } : {}),
        ...(u.memoryBytes !== undefined ? { memoryBytes: u.memoryBytes } : {}),
        restarts: u.restarts,
        ...(u.since !== undefined ? { since: u.since } : {}),
      });
    }
    for (const [pid, ports] of processPorts) {
      const proc = node.processes.get(String(pid));
      if (!proc) continue;
      const name = processServiceName(proc);
      remember(name);
      add(name, {
        node: node.node,
        nodeOnline: node.online,
        kind: 'process',
        id: String(pid),
        name: programName(proc),
        state: 'running',
        health: 'none',
        healthy: node.online,
        ports: sortPorts(ports),
        command: proc.cmdline,
        pid,
        user: proc.user,
        ...(proc.owner.unit ? { unit: proc.owner.unit } : {}),
        restarts: 0,
        since: proc.startTime * 1000,
        cpuSeconds: proc.cpuSeconds,
        memoryBytes: proc.rssBytes,
      });
    }
  }

  const services: Service[] = [];
  for (const [key, instances] of byName) {
    const name = displayName.get(key) ?? key;
    instances.sort((a, b) => a.node.localeCompare(b.node) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
    services.push({ name, dnsLabel: dnsLabel(name), instances });
  }
  return services.sort((a, b) => a.name.localeCompare(b.name));
}

/** Finds a service by name or DNS label, ignoring case. */
export function findService(services: Service[], query: string): Service | undefined {
  const q = query.toLowerCase().replace(/\.service(\.[a-z0-9.-]+)?$/, '');
  return services.find((s) => s.name.toLowerCase() === q) ?? services.find((s) => s.dnsLabel === q);
}

/** Names close to `query` (edit distance, prefixes, substrings), best first, at most `max`. */
export function closeMatches(names: string[], query: string, max = 5): string[] {
  const q = query.toLowerCase();
  const scored: { name: string; score: number }[] = [];
  for (const name of names) {
    const n = name.toLowerCase();
    const d = editDistance(n, q);
    let score = Infinity;
    if (d <= Math.max(1, Math.min(2, Math.floor(q.length / 3))) || (d === 1 && q.length <= 3)) score = d;
    else if (n.includes(q) || (q.includes(n) && n.length >= 3)) score = 10 + Math.abs(n.length - q.length);
    if (score < Infinity) scored.push({ name, score });
  }
  return scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name)).slice(0, max).map((s) => s.name);
}

/**
 * Edit distance with adjacent transpositions counted as one edit (optimal
 * string alignment), for "did you mean": `wbe` is one slip from `web`.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
