/**
 * node_exporter's `cpu` collector: time per CPU and mode from /proc/stat,
 * guest time, thermal throttling counts (x86) and isolated CPUs.
 */
import { USER_HZ } from './proc-stat.ts';
import { listDir, readFileAt, tryReadNumber, tryReadSys } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** One `cpuN` line of /proc/stat, in seconds. */
export interface CpuLine {
  cpu: string;
  /** user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice */
  times: number[];
}

/** The modes of node_cpu_seconds_total, in /proc/stat's column order. */
export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

/** Parses the per-CPU lines of /proc/stat; columns an old kernel lacks read as 0. */
export function parseCpuLines(text: string): CpuLine[] {
  const out: CpuLine[] = [];
  const textLines = text.split('\n');
  for (let li = 0; li < textLines.length; li++) {
    const line = textLines[li]!;
    if (!line.startsWith('cpu') || line[3] === ' ') continue;
    const fields = line.trim().split(/\s+/);
    const cpu = fields[0]!.slice(3);
    if (!/^\d+$/.test(cpu)) continue;
    const times: number[] = [];
    for (let i = 1; i <= 10; i++) {
      const n = Number(fields[i] ?? 0);
      times.push(Number.isFinite(n) && n >= 0 ? n / USER_HZ : 0);
    }
    out.push({ cpu, times });
  }
  if (out.length === 0) throw new Error('no per-CPU lines in /proc/stat');
  return out;
}

/** Parses a kernel CPU list (`0-2,5`) into CPU numbers. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`not a CPU list: ${JSON.stringify(text.slice(0, 64))}`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    for (let c = from; c <= to && out.length < 65_536; c++) out.push(c);
  }
  return out;
}

/** node_exporter resets a CPU's counters when idle jumps back this far (a hotplug), and otherwise never lets one decrease. */
const JUMP_BACK_SECONDS = 3;

/** Re-checks this often whether the CPUs have thermal_throttle counters (only x86 bare metal has them). */
const THROTTLE_RECHECK = 60;

export const cpuCollector: CollectorSpec = {
  name: 'cpu',
  reads: '/proc/stat, /sys/devices/system/cpu/cpu*/thermal_throttle, /sys/devices/system/cpu/isolated',
  enabled: true,
  every: 1,
  maxSeries: 65_536,
  whenAbsent: 'nodata',
  create(ctx) {
    const last = new Map<string, number[]>();
    let isolated: number[] | undefined;
    try {
      isolated = parseCpuList(readFileAt(ctx.root, '/sys/devices/system/cpu/isolated'));
    } catch {
      isolated = undefined;
    }
    let runs = 0;
    let throttled = false;
    return (out) => {
      const lines = parseCpuLines(readFileAt(ctx.root, '/proc/stat'));
      const seconds = out.counter('node_cpu_seconds_total', 'Seconds the CPUs spent in each mode.', ['cpu', 'mode']);
      const guest = out.counter('node_cpu_guest_seconds_total', 'Seconds the CPUs spent in guests (VMs) for each mode.', ['cpu', 'mode']);
      for (let ix = 0; ix < lines.length; ix++) {
        const { cpu, times } = lines[ix]!;
        let kept = last.get(cpu);
        if (!kept || kept[3]! - times[3]! >= JUMP_BACK_SECONDS) {
          kept = times.slice();
          last.set(cpu, kept);
        }
        // Counters stay counters: a value read lower than the last (a known kernel quirk of iowait) keeps the last.
        for (let i = 0; i < times.length; i++) if (times[i]! > kept[i]!) kept[i] = times[i]!;
        CPU_MODES.forEach((mode, i) => seconds(kept[i]!, cpu, mode));
        guest(kept[8]!, cpu, 'user');
        guest(kept[9]!, cpu, 'nice');
      }
      if (isolated) {
        const iso = out.gauge('node_cpu_isolated', 'Whether each core is isolated, information from /sys/devices/system/cpu/isolated.', ['cpu']);
        for (const c of isolated) iso(1, String(c));
      }
      if (runs++ % THROTTLE_RECHECK === 0) throttled = tryReadSys(ctx.root, '/sys/devices/system/cpu/cpu0/thermal_throttle/core_throttle_count') !== undefined;
      if (throttled) writeThrottles(ctx.root, out);
    };
  },
};

function writeThrottles(root: string, out: Parameters<ReturnType<CollectorSpec['create']>>[0]): void {
  const packages = new Map<string, number>();
  const cores = new Map<string, number>();
  for (const dir of listDir(root, '/sys/devices/system/cpu')) {
    if (!/^cpu\d+$/.test(dir)) continue;
    const base = `/sys/devices/system/cpu/${dir}`;
    const pkg = tryReadSys(root, `${base}/topology/physical_package_id`);
    const core = tryReadSys(root, `${base}/topology/core_id`);
    if (pkg === undefined || core === undefined) continue;
    const key = `${pkg}\u0000${core}`;
    if (!cores.has(key)) {
      const n = tryReadNumber(root, `${base}/thermal_throttle/core_throttle_count`);
      if (n !== undefined) cores.set(key, n);
    }
    if (!packages.has(pkg)) {
      const n = tryReadNumber(root, `${base}/thermal_throttle/package_throttle_count`);
      if (n !== undefined) packages.set(pkg, n);
    }
  }
  const p = out.counter('node_cpu_package_throttles_total', 'Number of times this CPU package has been throttled.', ['package']);
  for (const [pkg, n] of packages) p(n, pkg);
  const c = out.counter('node_cpu_core_throttles_total', 'Number of times this CPU core has been throttled.', ['package', 'core']);
  for (const [key, n] of cores) {
    const [pkg, core] = key.split('\u0000') as [string, string];
    c(n, pkg, core);
  }
}
