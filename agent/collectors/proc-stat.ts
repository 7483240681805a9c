/**
 * /proc/stat: per-CPU time counters and the boot time.
 */
import type { CpuTimes } from '../../protocol/messages.ts';
import { readProcText } from './read.ts';

/**
 * Kernel clock ticks per second as exported to user space. It is 100 on every
 * Linux architecture regardless of CONFIG_HZ, which is why node_exporter and
 * procps hard-code it too.
 */
export const USER_HZ = 100;

/** What the collectors need from /proc/stat. */
export interface ProcStat {
  /** One entry per online CPU (`cpu` = "0", "1", ...), counters in seconds since boot. */
  cpus: CpuTimes[];
  /** Boot time in seconds since the Unix epoch (`btime`), undefined if the line is missing. */
  bootTime: number | undefined;
}

const MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

/**
 * Parses /proc/stat. The aggregate `cpu` line is skipped: the hub sums per-CPU
 * series itself, as Prometheus queries do. Columns a very old kernel lacks
 * (iowait, irq, softirq, steal) read as 0. `user` and `nice` already include
 * guest time, so guest columns are not added again.
 */
export function parseProcStat(text: string): ProcStat {
  const cpus: CpuTimes[] = [];
  let bootTime: number | undefined;
  const lines = text.split('\n');
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
    if (line.startsWith('cpu')) {
      const fields = line.trim().split(/\s+/);
      const label = fields[0]?.slice(3) ?? '';
      if (!/^\d+$/.test(label)) continue;
      const seconds = (i: number): number => {
        const n = Number(fields[i + 1]);
        return Number.isFinite(n) && n >= 0 ? n / USER_HZ : 0;
      };
      const times: CpuTimes = { cpu: label, user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 };
      MODES.forEach((mode, i) => { times[mode] = seconds(i); });
      cpus.push(times);
    } else if (line.startsWith('btime ')) {
      const n = Number(line.slice(6).trim());
      if (Number.isFinite(n) && n >= 0) bootTime = n;
    }
  }
  if (cpus.length === 0) throw new Error('no per-CPU lines in /proc/stat');
  return { cpus, bootTime };
}

/** Reads and parses `<root>/proc/stat`. */
export async function readProcStat(root: string): Promise<ProcStat> {
  return parseProcStat(await readProcText(root, '/proc/stat'));
}
