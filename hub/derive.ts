/**
 * Figures the hub derives from raw samples: CPU use between two counter
 * readings, memory in use, and the per-node summary the API and CLI show.
 */
import type { CpuTimes, SampleData } from '../protocol/index.ts';

const busy = (c: CpuTimes) => c.user + c.nice + c.system + c.irq + c.softirq + c.steal;
const total = (c: CpuTimes) => busy(c) + c.idle + c.iowait;

/**
 * Fraction (0..1) of all CPUs busy between two readings of the per-CPU
 * counters, or null when it cannot be told (first sample, counters reset).
 */
export function cpuUsedBetween(prev: readonly CpuTimes[] | undefined, cur: readonly CpuTimes[]): number | null {
  if (!prev || prev.length === 0 || cur.length === 0) return null;
  let b = 0;
  let t = 0;
  for (const c of cur) {
    const p = prev.find((x) => x.cpu === c.cpu);
    if (!p) continue;
    b += busy(c) - busy(p);
    t += total(c) - total(p);
  }
  if (t <= 0 || b < 0) return null;
  return Math.min(1, b / t);
}

/** Bytes of memory in use the way `free` and node_exporter dashboards count it: total minus available. */
export function memUsed(d: SampleData): number {
  return Math.max(0, d.memory.totalBytes - d.memory.availableBytes);
}

/** The current use of a node, as the API and `muster nodes` show it. */
export interface UseSummary {
  ts: number;
  cpuPercent: number | null;
  load: [number, number, number];
  memory: { totalBytes: number; usedBytes: number; availableBytes: number; percent: number | null };
  swap: { totalBytes: number; usedBytes: number };
  filesystems: { mountpoint: string; fstype: string; sizeBytes: number; usedBytes: number; availBytes: number; percent: number | null }[];
  /** Fullest filesystem, in percent: what a glance at a node needs. */
  diskPercent: number | null;
  temperatureCelsius: number | null;
  network: { iface: string; rxBytes: number; txBytes: number }[];
  unavailable: { collector: string; reason: string }[];
}

const pct = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 1000) / 10 : null);

/** Summarises one stored sample for people. */
export function summarizeUse(ts: number, cpuUsed: number | null, d: SampleData): UseSummary {
  const filesystems = d.filesystems.map((f) => {
    const usedBytes = Math.max(0, f.sizeBytes - f.freeBytes);
    // df's Use%: used / (used + available), so reserved blocks count as full.
    return { mountpoint: f.mountpoint, fstype: f.fstype, sizeBytes: f.sizeBytes, usedBytes, availBytes: f.availBytes, percent: pct(usedBytes, usedBytes + f.availBytes) };
  });
  const percents = filesystems.map((f) => f.percent).filter((p): p is number => p !== null);
  const temps = d.temperatures.map((t) => t.celsius);
  const used = memUsed(d);
  return {
    ts,
    cpuPercent: cpuUsed === null ? null : Math.round(cpuUsed * 1000) / 10,
    load: d.load,
    memory: { totalBytes: d.memory.totalBytes, usedBytes: used, availableBytes: d.memory.availableBytes, percent: pct(used, d.memory.totalBytes) },
    swap: { totalBytes: d.memory.swapTotalBytes, usedBytes: Math.max(0, d.memory.swapTotalBytes - d.memory.swapFreeBytes) },
    filesystems,
    diskPercent: percents.length ? Math.max(...percents) : null,
    temperatureCelsius: temps.length ? Math.max(...temps) : null,
    network: d.network.map((n) => ({ iface: n.iface, rxBytes: n.rxBytes, txBytes: n.txBytes })),
    unavailable: d.unavailable,
  };
}
