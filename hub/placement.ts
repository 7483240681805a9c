/**
 * Where a new service fits: every node is checked against a request (CPU,
 * memory, disk, platform, labels, host ports) and either ranked with a score
 * and the figures behind it, or rejected with every reason, not just the
 * first. Pure: the caller (hub/capacity.ts) gathers what the nodes use, so
 * the same figures always give the same answer.
 *
 * What a node uses is the largest of its p95 over the last hour, the last
 * day and the last week (a nightly batch job must not look like free room at
 * noon, nor Monday's payroll run on a quiet Sunday), plus what recent
 * deploys reserved that the samples cannot show yet. The week's figure comes
 * from hourly rows (see hub/capacity.ts for how). A share of every
 * node (the headroom, 10% by default) is never handed out.
 *
 * Scoring of feasible nodes. "Fullness" is the larger of the CPU and memory
 * use fractions after placing: the scarcer resource is the one that decides
 * what else still fits on the node, so a mean would hide a node that is out
 * of memory but idle.
 *   binpack  100 x fullness. The fullest node that still fits wins, which
 *            keeps whole nodes free for big services.
 *   spread   100 x (1 - fullness), plus 200 for every tier of instances the
 *            node is better than the worst feasible one. Tiers order nodes by
 *            the instances of the service in their spreadBy group (the
 *            fleet-wide sum per label value; a node without the label is in
 *            group ''), then by the instances on the node itself. 200 is more
 *            than the whole rest of the score, so fewer instances always win
 *            and emptiness only decides among equals; when every node is in
 *            one tier the score stays in 0..110.
 *   +10 in both when the image is already on the node (no pull, quicker
 *   start): enough to break a near-tie, not to outweigh a real difference.
 * Infeasible nodes score 0; they come after the feasible ones, ordered by how
 * close they come. Ties go to the name, so the answer is stable.
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
  /** With spread: a node label whose values to spread across; absent: spread across nodes. */
  spreadBy?: string;
  /** The service being placed (its muster.service name), so spread can avoid nodes already running it. */
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
  /** Measured use, p95 over the last hour, day and week: cores and bytes. Absent without samples in that window. */
  usage: {
    cpuP95Hour?: number; cpuP95Day?: number; cpuP95Week?: number;
    memP95Hour?: number; memP95Day?: number; memP95Week?: number;
  };
  /** Held by recent deploys that the samples may not show yet. */
  reserved: { cpu: number; memoryBytes: number; diskBytes: number };
  portsInUse: { port: number; protocol: 'tcp' | 'udp' }[];
  /** Image refs on the node, as its containers report them. */
  images: string[];
  /** Running instances of the requested service on this node (0 when no service was given). */
  serviceInstances: number;
}

/** How strict placement is. */
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

/** A span a node's p95 use is taken over. */
export type UseWindow = 'hour' | 'day' | 'week';

/** One node in the answer. */
export interface RankedNode {
  node: string;
  feasible: boolean;
  /** Higher is better, comparable within one answer; 0 for infeasible nodes. */
  score: number;
  /** Every reason the node is out; empty when it is feasible. */
  reasons: Rejection[];
  /** Why it scored as it did. */
  notes: string[];
  figures: {
    /** p95 use (the largest of the hour's, day's and week's) plus reservations, in cores. */
    cpuUsed: number;
    /** The window whose p95 counted for CPU (the shortest one on a tie); null without samples. */
    cpuUsedOver: UseWindow | null;
    /** Cores left after placing, below the headroom line; negative when short. */
    cpuFreeAfter: number;
    memoryUsedBytes: number;
    /** The window whose p95 counted for memory (the shortest one on a tie); null without samples. */
    memoryUsedOver: UseWindow | null;
    memoryFreeAfterBytes: number;
    /** Null when the node's free disk is unknown. */
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
  /** Every node: feasible ones best first, then infeasible ones closest first. */
  ranked: RankedNode[];
  /** The node to use: the top feasible one, or with force the closest one that over-committing can serve. */
  best: string | null;
  fits: boolean;
  /** When nothing fits: the node that comes closest. */
  closest: string | null;
  warnings: string[];
}

const IMAGE_BONUS = 10;
/** More than the rest of a spread score (100 for emptiness + the image bonus), so fewer instances always win. */
const TIER_STEP = 200;
/**
 * Reasons no amount of over-commit fixes. A taken host port is one: the
 * container could not bind it and would not start. Unknown capacity means the
 * node has no facts or is offline without samples; guessing there is not an
 * over-commit but a blind throw.
 */
const HARD = new Set<Rejection['code']>(['offline', 'platform', 'label', 'port', 'unknown-capacity']);

const KIB = 1024;
const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: KIB, kb: KIB, ki: KIB, kib: KIB,
  m: KIB ** 2, mb: KIB ** 2, mi: KIB ** 2, mib: KIB ** 2,
  g: KIB ** 3, gb: KIB ** 3, gi: KIB ** 3, gib: KIB ** 3,
  t: KIB ** 4, tb: KIB ** 4, ti: KIB ** 4, tib: KIB ** 4,
};

/** Parses `256M`, `1G`, `512Mi`, `1.5GiB`, `1048576` into bytes (powers of 1024, as docker reads them); undefined if malformed. */
export function parseBytes(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const n = Number(m[1]) * unit;
  return Number.isFinite(n) && n <= Number.MAX_SAFE_INTEGER ? Math.round(n) : undefined;
}

/** Parses `0.5`, `2` or `500m` (millicores) into cores; undefined if malformed, not above 0 or beyond any machine (1024). */
export function parseCpu(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)(m?)\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) / (m[2] ? 1000 : 1);
  return n > 0 && n <= 1024 ? n : undefined;
}

/**
 * Architecture names as the agent reports them (GOARCH: `amd64`, `armv7`),
 * as Node (`x64`, `ia32`), the kernel (`x86_64`, `aarch64`, `armv7l`) and
 * Debian (`armhf`, `i386`) spell them, and as platform tails (`arm64/v8`).
 * Debian's `armhf` is ARMv7; `armel` is the soft-float port Raspberry Pi
 * Zero/1 class boards can run, so it maps to v6.
 */
const ARCH: Record<string, Platform> = {
  amd64: 'linux/amd64', x64: 'linux/amd64', x86_64: 'linux/amd64',
  arm64: 'linux/arm64', aarch64: 'linux/arm64', 'arm64/v8': 'linux/arm64', armv8: 'linux/arm64',
  armv7: 'linux/arm/v7', armv7l: 'linux/arm/v7', armhf: 'linux/arm/v7', arm: 'linux/arm/v7', 'arm/v7': 'linux/arm/v7',
  armv6: 'linux/arm/v6', armv6l: 'linux/arm/v6', armel: 'linux/arm/v6', 'arm/v6': 'linux/arm/v6',
  '386': 'linux/386', i386: 'linux/386', i686: 'linux/386', ia32: 'linux/386',
  riscv64: 'linux/riscv64', ppc64le: 'linux/ppc64le', s390x: 'linux/s390x', loong64: 'linux/loong64',
};

/** Maps a node's architecture (`amd64`, `arm64`, `armv7`, `armv6`, `386`, also `x64`, `aarch64`, `armhf`, `x86_64`) to its platform; null when unknown. */
export function platformOf(arch: string): Platform | null {
  return ARCH[arch.trim().toLowerCase()] ?? null;
}

/** Normalises `linux/arm64`, `arm64/v8`, `arm`, `amd64` to a platform like `linux/arm64`; undefined when unknown or not Linux. */
export function parsePlatform(text: string): Platform | undefined {
  const t = text.trim().toLowerCase();
  return ARCH[t.startsWith('linux/') ? t.slice(6) : t];
}

/**
 * Whether a node of one platform runs images of another: the same platform,
 * or an older 32-bit ARM level (v7 cores run v6 code). Not arm64 running
 * arm/v7 nor amd64 running 386: both depend on the CPU or the kernel
 * (many arm64 server cores have no 32-bit mode), which facts do not tell.
 */
function runs(node: Platform, asked: Platform): boolean {
  if (node === asked) return true;
  const level = (p: Platform) => /^linux\/arm\/v(\d)$/.exec(p)?.[1];
  const n = level(node);
  const a = level(asked);
  return n !== undefined && a !== undefined && Number(n) >= Number(a);
}

const fmtBytes = (n: number): string => {
  const abs = Math.abs(n);
  if (abs >= KIB ** 3) return `${(n / KIB ** 3).toFixed(1)} GiB`;
  if (abs >= KIB ** 2) return `${Math.round(n / KIB ** 2)} MiB`;
  if (abs >= KIB) return `${Math.round(n / KIB)} KiB`;
  return `${Math.round(n)} B`;
};
const num = (n: number) => `${Math.round(n * 100) / 100}`;
const fmtCores = (n: number) => `${num(n)} ${n === 1 ? 'core' : 'cores'}`;
const pct = (f: number) => `${Math.round(f * 100)}%`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

interface Checked extends RankedNode {
  /**
   * How far past its limits placing would push the node: per short resource,
   * the excess as a share of the node's size (what over-committing it would
   * mean), for disk as a share of the disk asked. 0 with only hard reasons.
   */
  shortfall: number;
}

/** `busybox`, `busybox:latest` and `docker.io/library/busybox:latest` are one image. */
function sameImage(a: string, b: string): boolean {
  const norm = (s: string) => {
    let x = s.trim().replace(/^(?:index\.)?docker\.io\//, '').replace(/^library\//, '');
    if (!x.includes('@') && !/:[^/]+$/.test(x)) x += ':latest';
    return x;
  };
  return norm(a) === norm(b);
}

/** The largest of the windows' figures, and which window it is; a longer window wins only when strictly larger, so a steady node reads "hour". */
function measured(figures: [UseWindow, number | undefined][]): { use: number; over: UseWindow | null } {
  let use = 0;
  let over: UseWindow | null = null;
  for (const [w, v] of figures) if (v !== undefined && (over === null || v > use)) { use = v; over = w; }
  return { use, over };
}

function check(req: PlacementRequest, n: NodeCapacity, headroom: number): Checked {
  const reasons: Rejection[] = [];
  const notes: string[] = [];
  if (!n.online) reasons.push({ code: 'offline', message: 'node is offline' });
  if (req.platform) {
    const asked = parsePlatform(req.platform) ?? req.platform;
    const has = n.platform === null ? null : parsePlatform(n.platform) ?? n.platform;
    if (has === null) reasons.push({ code: 'platform', message: `platform unknown (no facts from the agent yet); ${asked} asked` });
    else if (!runs(has, asked)) reasons.push({ code: 'platform', message: `platform ${has}, ${asked} asked` });
    else if (has !== asked) notes.push(`${has} runs ${asked} images`);
  }
  for (const [k, v] of Object.entries(req.constraints)) {
    const has = n.labels[k];
    if (has === undefined) reasons.push({ code: 'label', message: `label ${k}=${v} missing (node has no ${k} label)` });
    else if (has !== v) reasons.push({ code: 'label', message: `label ${k}=${v} missing (node has ${k}=${has})` });
  }

  const { usage, reserved } = n;
  const cpu = measured([['hour', usage.cpuP95Hour], ['day', usage.cpuP95Day], ['week', usage.cpuP95Week]]);
  const mem = measured([['hour', usage.memP95Hour], ['day', usage.memP95Day], ['week', usage.memP95Week]]);
  const cpuMeasured = cpu.over !== null;
  const memMeasured = mem.over !== null;
  const sizeKnown = n.cpuCores > 0 && n.memoryBytes > 0;
  if (!sizeKnown) {
    const missing = [n.cpuCores > 0 ? '' : 'CPU count', n.memoryBytes > 0 ? '' : 'memory size'].filter(Boolean).join(' or ');
    reasons.push({ code: 'unknown-capacity', message: `size unknown: no ${missing} from the agent yet` });
  }
  else if (!n.online && (!cpuMeasured || !memMeasured)) reasons.push({ code: 'unknown-capacity', message: 'use unknown: no samples in the last week and the node is offline' });
  else if (!cpuMeasured || !memMeasured) notes.push(`no samples yet for ${!cpuMeasured && !memMeasured ? 'CPU or memory' : !cpuMeasured ? 'CPU' : 'memory'} in the last week: use counted as 0`);

  const cpuMeasuredUse = cpu.use;
  const memMeasuredUse = mem.use;
  // Say so when a longer window decides: the node may look idle right now, and the figure would puzzle.
  const hourNote = (v: number | undefined, fmt: (n: number) => string) => (v === undefined ? '' : `, above the last hour's ${fmt(v)}`);
  if (cpu.over === 'day' || cpu.over === 'week') notes.push(`CPU counted at its p95 over the last ${cpu.over} (${fmtCores(cpu.use)}${hourNote(usage.cpuP95Hour, fmtCores)})`);
  if (mem.over === 'day' || mem.over === 'week') notes.push(`memory counted at its p95 over the last ${mem.over} (${fmtBytes(mem.use)}${hourNote(usage.memP95Hour, fmtBytes)})`);
  const cpuUsed = cpuMeasuredUse + reserved.cpu;
  const memUsed = memMeasuredUse + reserved.memoryBytes;
  if (reserved.cpu > 0 || reserved.memoryBytes > 0 || reserved.diskBytes > 0) {
    notes.push(`recent deploys hold ${fmtCores(reserved.cpu)}, ${fmtBytes(reserved.memoryBytes)} memory${reserved.diskBytes > 0 ? `, ${fmtBytes(reserved.diskBytes)} disk` : ''}`);
  }
  const over = (w: UseWindow | null) => (w === 'day' || w === 'week' ? ` over the last ${w}` : '');
  const held = (measured: string, w: UseWindow | null, r: number, fmt: (n: number) => string) =>
    `p95 use ${measured}${over(w)}${r > 0 ? ` + ${fmt(r)} held by recent deploys` : ''}`;

  const cpuCap = n.cpuCores * (1 - headroom);
  const memCap = n.memoryBytes * (1 - headroom);
  const cpuFreeAfter = cpuCap - cpuUsed - req.cpu;
  const memFreeAfter = memCap - memUsed - req.memoryBytes;
  let shortfall = 0;
  // A request that asks for no CPU (or memory) is not turned away by a busy node: it asked for nothing.
  if (n.cpuCores > 0 && req.cpu > 0 && cpuFreeAfter < 0) {
    reasons.push({ code: 'cpu', message: `needs ${fmtCores(req.cpu)}, ${num(Math.max(0, cpuCap - cpuUsed))} free of ${num(n.cpuCores)} after ${pct(headroom)} headroom (${held(num(cpuMeasuredUse), cpu.over, reserved.cpu, num)})` });
    shortfall += -cpuFreeAfter / n.cpuCores;
  }
  if (n.memoryBytes > 0 && req.memoryBytes > 0 && memFreeAfter < 0) {
    reasons.push({ code: 'memory', message: `needs ${fmtBytes(req.memoryBytes)} memory, ${fmtBytes(Math.max(0, memCap - memUsed))} free of ${fmtBytes(n.memoryBytes)} after ${pct(headroom)} headroom (${held(fmtBytes(memMeasuredUse), mem.over, reserved.memoryBytes, fmtBytes)})` });
    shortfall += -memFreeAfter / n.memoryBytes;
  }
  let diskFreeAfter: number | null = null;
  if (n.diskFreeBytes !== null) {
    diskFreeAfter = n.diskFreeBytes - reserved.diskBytes - req.diskBytes;
    if (req.diskBytes > 0 && diskFreeAfter < 0) {
      const heldDisk = reserved.diskBytes > 0 ? ` (${fmtBytes(reserved.diskBytes)} of ${fmtBytes(n.diskFreeBytes)} held by recent deploys)` : '';
      reasons.push({ code: 'disk', message: `needs ${fmtBytes(req.diskBytes)} disk, ${fmtBytes(Math.max(0, n.diskFreeBytes - reserved.diskBytes))} free${heldDisk}` });
      shortfall += -diskFreeAfter / req.diskBytes;
    }
  } else if (req.diskBytes > 0) {
    reasons.push({ code: 'disk', message: `needs ${fmtBytes(req.diskBytes)} disk; free disk unknown (no sample yet)` });
    shortfall += 1;
  }
  const asked = new Set<string>();
  for (const p of req.ports) {
    const key = `${p.port}/${p.protocol}`;
    if (asked.has(key)) continue;
    asked.add(key);
    if (n.portsInUse.some((u) => u.port === p.port && u.protocol === p.protocol)) reasons.push({ code: 'port', message: `port ${key} is in use` });
  }

  const cpuUseAfter = n.cpuCores > 0 ? (cpuUsed + req.cpu) / n.cpuCores : 1;
  const memoryUseAfter = n.memoryBytes > 0 ? (memUsed + req.memoryBytes) / n.memoryBytes : 1;
  const imagePresent = req.image !== undefined && n.images.some((i) => sameImage(i, req.image!));
  if (imagePresent) notes.push('image already present');
  return {
    node: n.name, feasible: reasons.length === 0, score: 0, reasons, notes, shortfall,
    figures: {
      cpuUsed, cpuUsedOver: cpu.over, cpuFreeAfter, memoryUsedBytes: memUsed, memoryUsedOver: mem.over, memoryFreeAfterBytes: memFreeAfter, diskFreeAfterBytes: diskFreeAfter,
      cpuUseAfter, memoryUseAfter, imagePresent,
    },
  };
}

/** What over-committing a node would do, resource by resource, for the force warning. */
function overCommit(c: Checked): string {
  const parts = c.reasons.map((r) => {
    if (r.code === 'cpu') return `CPU ${pct(c.figures.cpuUseAfter)} after placing (${r.message})`;
    if (r.code === 'memory') return `memory ${pct(c.figures.memoryUseAfter)} after placing (${r.message})`;
    return r.message;
  });
  return parts.join('; ');
}

/** Ranks every node for the request: feasible ones by score, the rest by how close they come, each with its reasons. */
export function rankPlacements(req: PlacementRequest, nodes: NodeCapacity[], opts: PlacementOptions = {}): PlacementAnswer {
  const h = opts.headroom ?? 0.1;
  // A headroom of 1 or more would make every node infeasible for reasons the message could not explain.
  const headroom = Number.isFinite(h) ? Math.min(Math.max(h, 0), 0.99) : 0.1;
  const warnings: string[] = [];
  const checked = nodes.map((n) => check(req, n, headroom));

  const spreading = req.strategy === 'spread';
  if (req.spreadBy !== undefined && !spreading) warnings.push(`spreadBy ${req.spreadBy} has no effect with the binpack strategy; ask for spread`);
  else if (req.spreadBy !== undefined && req.service === undefined) warnings.push(`spreadBy ${req.spreadBy} needs the service to count its instances; nodes ranked by emptiness only`);

  // Instances of the service per spreadBy group, summed over the whole fleet (offline nodes' instances still sit in their group).
  const groupOf = (n: NodeCapacity) => (req.spreadBy !== undefined ? n.labels[req.spreadBy] ?? '' : n.name);
  const perGroup = new Map<string, number>();
  for (const n of nodes) perGroup.set(groupOf(n), (perGroup.get(groupOf(n)) ?? 0) + n.serviceInstances);
  const tierOf = (n: NodeCapacity): [number, number] => [req.spreadBy !== undefined ? perGroup.get(groupOf(n)) ?? 0 : 0, n.serviceInstances];
  // Dense rank of the tiers of feasible nodes, so scores stay small and the worst tier adds nothing.
  const tiers = [...new Set(nodes.filter((_, i) => checked[i]!.feasible).map((n) => tierOf(n).join(',')))]
    .map((k) => k.split(',').map(Number) as [number, number])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);

  nodes.forEach((n, i) => {
    const c = checked[i]!;
    const fullness = Math.min(1, Math.max(0, c.figures.cpuUseAfter, c.figures.memoryUseAfter));
    c.notes.push(`would be ${pct(c.figures.cpuUseAfter)} CPU, ${pct(c.figures.memoryUseAfter)} memory after placing`);
    if (spreading && req.service !== undefined) {
      const [group, here] = tierOf(n);
      if (here > 0) c.notes.push(`${plural(here, 'instance')} of ${req.service} already here`);
      if (req.spreadBy !== undefined) c.notes.push(`${plural(group, 'instance')} of ${req.service} in ${req.spreadBy}=${groupOf(n) || '(none)'}`);
    }
    if (!c.feasible) return;
    let score: number;
    if (spreading) {
      const [group, here] = tierOf(n);
      const rank = tiers.findIndex((t) => t[0] === group && t[1] === here);
      score = 100 * (1 - fullness) + TIER_STEP * (tiers.length - 1 - rank);
    } else {
      score = 100 * fullness;
    }
    if (c.figures.imagePresent) score += IMAGE_BONUS;
    c.score = Math.round(score * 10) / 10;
  });

  const feasible = checked.filter((c) => c.feasible).sort((a, b) => b.score - a.score || byName(a.node, b.node));
  const hardOf = (c: Checked) => c.reasons.filter((r) => HARD.has(r.code));
  const infeasible = checked.filter((c) => !c.feasible)
    .sort((a, b) => hardOf(a).length - hardOf(b).length || a.shortfall - b.shortfall || a.reasons.length - b.reasons.length || byName(a.node, b.node));
  const ranked: RankedNode[] = [...feasible, ...infeasible].map(({ shortfall: _s, ...r }) => r);

  const fits = feasible.length > 0;
  let best = feasible[0]?.node ?? null;
  const closest = fits ? null : infeasible[0]?.node ?? null;
  if (nodes.length === 0) {
    warnings.push('no nodes known: join one with muster agent --hub URL --join TOKEN');
  } else if (!fits) {
    const c = infeasible[0]!;
    const hard = hardOf(c);
    if (!opts.force) {
      warnings.push(`nothing fits; the closest node is ${c.node}: ${c.reasons.map((r) => r.message).join('; ')}`);
    } else if (hard.length > 0) {
      warnings.push(`nothing fits, and --force cannot help: the closest node, ${c.node}, is out for reasons over-committing does not fix: ${hard.map((r) => r.message).join('; ')}` +
        (hard.some((r) => r.code === 'port') ? ' (a container cannot start without its host port)' : ''));
    } else {
      best = c.node;
      warnings.push(`nothing fits; --force over-commits ${c.node}: ${overCommit(c)}`);
    }
  }
  return { request: req, ranked, best, fits, closest, warnings };
}
