/**
 * Where a new service fits: every node is checked against a request (CPU,
 * memory, disk, platform, labels, host ports) and either ranked with a score
 * and the figures behind it, or rejected with every reason, not just the
 * first. Pure: the caller (hub/capacity.ts) gathers what the nodes use.
 *
 * Scoring, 0..100 plus bonuses, for feasible nodes:
 *   binpack  100 x the node's fullness after placing: the larger of its CPU
 *            and memory use fractions. The fullest node that still fits wins,
 *            which keeps whole nodes free for big services.
 *   spread   100 x (1 - fullness after placing), minus 100 per instance of
 *            the same service already there (or, with spreadBy, per instance
 *            in the node's label group): fewer instances always win, and
 *            among equals the emptiest node.
 *   +10 when the image is already on the node (no pull).
 * Ties go to the name, so the answer is stable.
 */

/** An OCI platform: `linux/amd64`, `linux/arm64`, `linux/arm/v7`. */
export type Platform = string;

/** What a new service needs. */
export interface PlacementRequest {
  /** Cores. */
  cpu: number;
  memoryBytes: number;
  /** Free disk where Docker keeps its data; 0 for none. */
  diskBytes: number;
  /** Absent: any platform. */
  platform?: Platform;
  /** Node labels that must match exactly. */
  constraints: Record<string, string>;
  /** Host ports that must be free. */
  ports: { port: number; protocol: 'tcp' | 'udp' }[];
  strategy: 'binpack' | 'spread';
  /** With spread: a node label whose values to spread across. */
  spreadBy?: string;
  /** The service being placed, so spread can avoid nodes already running it. */
  service?: string;
  /** Nodes already holding the image score higher. */
  image?: string;
}

/** One node as placement sees it. */
export interface NodeCapacity {
  name: string;
  online: boolean;
  /** Null when unknown (no facts yet). */
  platform: Platform | null;
  labels: Record<string, string>;
  cpuCores: number;
  memoryBytes: number;
  /** Free bytes where deploys land; null when unknown. */
  diskFreeBytes: number | null;
  /** Measured use, p95 over the last hour and day: cores and bytes. Absent without samples in that window. */
  usage: { cpuP95Hour?: number; cpuP95Day?: number; memP95Hour?: number; memP95Day?: number };
  /** Held by recent deploys that the samples may not show yet. */
  reserved: { cpu: number; memoryBytes: number; diskBytes: number };
  portsInUse: { port: number; protocol: 'tcp' | 'udp' }[];
  images: string[];
  /** Running instances of the requested service on this node. */
  serviceInstances: number;
}

export interface PlacementOptions {
  /** Share of CPU and memory kept free on every node (default 0.1). */
  headroom?: number;
  /** When nothing fits, name the closest node anyway, with a warning. */
  force?: boolean;
}

/** Why a node cannot take the request. */
export interface Rejection {
  code: 'offline' | 'platform' | 'label' | 'cpu' | 'memory' | 'disk' | 'port' | 'unknown-capacity';
  message: string;
}

/** One node in the answer. */
export interface RankedNode {
  node: string;
  feasible: boolean;
  score: number;
  reasons: Rejection[];
  notes: string[];
  figures: {
    cpuUsed: number;
    cpuFreeAfter: number;
    memoryUsedBytes: number;
    memoryFreeAfterBytes: number;
    diskFreeAfterBytes: number | null;
    /** Fractions of the whole node in use after placing. */
    cpuUseAfter: number;
    memoryUseAfter: number;
    imagePresent: boolean;
  };
}

/** The ranking of every node for one request. */
export interface PlacementAnswer {
  request: PlacementRequest;
  /** Feasible nodes best first, then infeasible ones closest first. */
  ranked: RankedNode[];
  /** The node to use: the top feasible one, or with force the closest one. */
  best: string | null;
  fits: boolean;
  /** When nothing fits: the node that comes closest. */
  closest: string | null;
  warnings: string[];
}

const IMAGE_BONUS = 10;
/** Larger than the whole emptiness range: fewer instances of the service always win under spread. */
const INSTANCE_PENALTY = 100;
/** Reasons no amount of over-commit fixes. */
const HARD = new Set<Rejection['code']>(['offline', 'platform', 'label', 'port', 'unknown-capacity']);

const KIB = 1024;
const UNITS: Record<string, number> = { '': 1, b: 1, k: KIB, kb: KIB, ki: KIB, kib: KIB, m: KIB ** 2, mb: KIB ** 2, mi: KIB ** 2, mib: KIB ** 2, g: KIB ** 3, gb: KIB ** 3, gi: KIB ** 3, gib: KIB ** 3, t: KIB ** 4, tb: KIB ** 4, ti: KIB ** 4, tib: KIB ** 4 };

/** Parses `256M`, `1G`, `512Mi`, `1.5GiB`, `1048576` into bytes (powers of 1024, as docker reads them). */
export function parseBytes(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const n = Number(m[1]) * unit;
  return Number.isFinite(n) ? Math.round(n) : undefined;
}

/** Parses `0.5`, `2` or `500m` (millicores) into cores. */
export function parseCpu(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)(m?)\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) / (m[2] ? 1000 : 1);
  return n > 0 && n <= 1024 ? n : undefined;
}

const ARCH: Record<string, Platform> = {
  amd64: 'linux/amd64', x64: 'linux/amd64', x86_64: 'linux/amd64',
  arm64: 'linux/arm64', aarch64: 'linux/arm64', 'arm64/v8': 'linux/arm64',
  armv7: 'linux/arm/v7', armv7l: 'linux/arm/v7', armhf: 'linux/arm/v7', arm: 'linux/arm/v7', 'arm/v7': 'linux/arm/v7',
  armv6: 'linux/arm/v6', armv6l: 'linux/arm/v6', armel: 'linux/arm/v6', 'arm/v6': 'linux/arm/v6',
  '386': 'linux/386', i386: 'linux/386', i686: 'linux/386', ia32: 'linux/386',
  riscv64: 'linux/riscv64', ppc64le: 'linux/ppc64le', s390x: 'linux/s390x',
};

/** Maps a node's architecture (`amd64`, `aarch64`, `armv7`...) to its platform. */
export function platformOf(arch: string): Platform | null {
  return ARCH[arch.toLowerCase()] ?? null;
}

/** Normalises `linux/arm64`, `arm64/v8`, `arm`, `amd64` to a platform; undefined when unknown. */
export function parsePlatform(text: string): Platform | undefined {
  const t = text.trim().toLowerCase();
  const arch = t.startsWith('linux/') ? t.slice(6) : t;
  return ARCH[arch] ?? undefined;
}

const fmtBytes = (n: number) => {
  const abs = Math.abs(n);
  const s = abs >= KIB ** 3 ? `${(n / KIB ** 3).toFixed(1)} GiB` : abs >= KIB ** 2 ? `${Math.round(n / KIB ** 2)} MiB` : `${Math.round(n / KIB)} KiB`;
  return s;
};
const fmtCores = (n: number) => `${Math.round(n * 100) / 100}`;
const pct = (f: number) => `${Math.round(f * 100)}%`;

interface Checked extends RankedNode {
  /** How far short the node is, summed over resources as fractions of what was asked: 0 when only hard reasons. */
  shortfall: number;
}

function check(req: PlacementRequest, n: NodeCapacity, headroom: number): Checked {
  const reasons: Rejection[] = [];
  const notes: string[] = [];
  if (!n.online) reasons.push({ code: 'offline', message: 'node is offline' });
  if (req.platform) {
    if (n.platform === null) reasons.push({ code: 'platform', message: `platform unknown (no facts from the agent yet); ${req.platform} asked` });
    else if (n.platform !== req.platform) reasons.push({ code: 'platform', message: `platform ${n.platform}, ${req.platform} asked` });
  }
  for (const [k, v] of Object.entries(req.constraints)) {
    const has = n.labels[k];
    if (has === undefined) reasons.push({ code: 'label', message: `label ${k}=${v} missing (node has no ${k} label)` });
    else if (has !== v) reasons.push({ code: 'label', message: `label ${k}=${v} missing (node has ${k}=${has})` });
  }
  if (n.cpuCores <= 0 || n.memoryBytes <= 0) reasons.push({ code: 'unknown-capacity', message: 'size unknown (no facts from the agent yet)' });

  const cpuMeasured = n.usage.cpuP95Hour ?? n.usage.cpuP95Day;
  const memMeasured = n.usage.memP95Hour ?? n.usage.memP95Day;
  const cpuUsed = Math.max(n.usage.cpuP95Hour ?? 0, n.usage.cpuP95Day ?? 0) + n.reserved.cpu;
  const memUsed = Math.max(n.usage.memP95Hour ?? 0, n.usage.memP95Day ?? 0) + n.reserved.memoryBytes;
  if (cpuMeasured === undefined || memMeasured === undefined) notes.push('no samples in the last day: use counted as 0');
  if (n.reserved.cpu > 0 || n.reserved.memoryBytes > 0) notes.push(`recent deploys hold ${fmtCores(n.reserved.cpu)} cores, ${fmtBytes(n.reserved.memoryBytes)}`);

  const cpuCap = n.cpuCores * (1 - headroom);
  const memCap = n.memoryBytes * (1 - headroom);
  const cpuFreeAfter = cpuCap - cpuUsed - req.cpu;
  const memFreeAfter = memCap - memUsed - req.memoryBytes;
  let shortfall = 0;
  if (n.cpuCores > 0 && cpuFreeAfter < 0) {
    reasons.push({ code: 'cpu', message: `needs ${fmtCores(req.cpu)} cores, ${fmtCores(Math.max(0, cpuCap - cpuUsed))} free of ${n.cpuCores} after ${pct(headroom)} headroom (p95 use ${fmtCores(cpuUsed)})` });
    shortfall += -cpuFreeAfter / Math.max(req.cpu, 0.01);
  }
  if (n.memoryBytes > 0 && memFreeAfter < 0) {
    reasons.push({ code: 'memory', message: `needs ${fmtBytes(req.memoryBytes)} memory, ${fmtBytes(Math.max(0, memCap - memUsed))} free of ${fmtBytes(n.memoryBytes)} after ${pct(headroom)} headroom (p95 use ${fmtBytes(memUsed)})` });
    shortfall += -memFreeAfter / Math.max(req.memoryBytes, KIB ** 2);
  }
  let diskFreeAfter: number | null = null;
  if (n.diskFreeBytes !== null) {
    diskFreeAfter = n.diskFreeBytes - n.reserved.diskBytes - req.diskBytes;
    if (req.diskBytes > 0 && diskFreeAfter < 0) {
      reasons.push({ code: 'disk', message: `needs ${fmtBytes(req.diskBytes)} disk, ${fmtBytes(Math.max(0, n.diskFreeBytes - n.reserved.diskBytes))} free` });
      shortfall += -diskFreeAfter / req.diskBytes;
    }
  } else if (req.diskBytes > 0) {
    reasons.push({ code: 'disk', message: `needs ${fmtBytes(req.diskBytes)} disk; free disk unknown (no sample yet)` });
    shortfall += 1;
  }
  for (const p of req.ports) {
    if (n.portsInUse.some((u) => u.port === p.port && u.protocol === p.protocol)) reasons.push({ code: 'port', message: `port ${p.port}/${p.protocol} is in use` });
  }

  const cpuUseAfter = n.cpuCores > 0 ? (cpuUsed + req.cpu) / n.cpuCores : 1;
  const memoryUseAfter = n.memoryBytes > 0 ? (memUsed + req.memoryBytes) / n.memoryBytes : 1;
  const imagePresent = req.image !== undefined && n.images.some((i) => sameImage(i, req.image!));
  if (imagePresent) notes.push('image already present');
  return {
    node: n.name, feasible: reasons.length === 0, score: 0, reasons, notes, shortfall,
    figures: {
      cpuUsed, cpuFreeAfter, memoryUsedBytes: memUsed, memoryFreeAfterBytes: memFreeAfter, diskFreeAfterBytes: diskFreeAfter,
      cpuUseAfter, memoryUseAfter, imagePresent,
    },
  };
}

/** `busybox` and `busybox:latest` and `docker.io/library/busybox:latest` are one image. */
function sameImage(a: string, b: string): boolean {
  const norm = (s: string) => {
    let x = s.replace(/^docker\.io\//, '').replace(/^library\//, '');
    if (!x.includes('@') && !/:[^/]+$/.test(x)) x += ':latest';
    return x;
  };
  return norm(a) === norm(b);
}

/** Ranks every node for the request. */
export function rankPlacements(req: PlacementRequest, nodes: NodeCapacity[], opts: PlacementOptions = {}): PlacementAnswer {
  const headroom = opts.headroom ?? 0.1;
  const checked = nodes.map((n) => check(req, n, headroom));
  // Instances of the service per spreadBy group, across the fleet.
  const groupOf = (n: NodeCapacity) => (req.spreadBy ? n.labels[req.spreadBy] ?? '' : n.name);
  const perGroup = new Map<string, number>();
  for (const n of nodes) perGroup.set(groupOf(n), (perGroup.get(groupOf(n)) ?? 0) + n.serviceInstances);
  nodes.forEach((n, i) => {
    const c = checked[i]!;
    const fullness = Math.min(1, Math.max(c.figures.cpuUseAfter, c.figures.memoryUseAfter));
    let score: number;
    if (req.strategy === 'spread') {
      const instances = perGroup.get(groupOf(n)) ?? 0;
      score = 100 * (1 - fullness) - INSTANCE_PENALTY * instances;
      if (instances > 0) c.notes.push(`${instances} instance${instances === 1 ? '' : 's'} of ${req.service} already ${req.spreadBy ? `in ${req.spreadBy}=${groupOf(n) || '(none)'}` : 'here'}`);
    } else {
      score = 100 * fullness;
    }
    if (c.figures.imagePresent) score += IMAGE_BONUS;
    c.score = Math.round(score * 10) / 10;
    c.notes.push(`${pct(c.figures.cpuUseAfter)} CPU, ${pct(c.figures.memoryUseAfter)} memory after placing`);
  });
  const byName = (a: Checked, b: Checked) => a.node.localeCompare(b.node);
  const feasible = checked.filter((c) => c.feasible).sort((a, b) => b.score - a.score || byName(a, b));
  const hardCount = (c: Checked) => c.reasons.filter((r) => HARD.has(r.code)).length;
  const infeasible = checked.filter((c) => !c.feasible)
    .sort((a, b) => hardCount(a) - hardCount(b) || a.shortfall - b.shortfall || a.reasons.length - b.reasons.length || byName(a, b));
  const ranked: RankedNode[] = [...feasible, ...infeasible].map(({ shortfall: _s, ...r }) => r);
  const warnings: string[] = [];
  const fits = feasible.length > 0;
  let best = feasible[0]?.node ?? null;
  const closest = fits ? null : infeasible[0]?.node ?? null;
  if (nodes.length === 0) warnings.push('no nodes known: join one with muster agent --hub URL --join TOKEN');
  else if (!fits && opts.force) {
    const c = infeasible[0]!;
    if (hardCount(c) > 0) {
      warnings.push(`nothing fits, and --force cannot help: even the closest node, ${c.node}, has ${c.reasons.filter((r) => HARD.has(r.code)).map((r) => r.message).join('; ')}`);
    } else {
      best = c.node;
      warnings.push(`nothing fits; --force over-commits ${c.node}: ${c.reasons.map((r) => r.message).join('; ')} ` +
        `(${pct(c.figures.cpuUseAfter)} CPU, ${pct(c.figures.memoryUseAfter)} memory after placing)`);
    }
  }
  return { request: req, ranked, best, fits, closest, warnings };
}
