/**
 * node_exporter's `stat` collector: interrupts, context switches, forks,
 * boot time and runnable/blocked processes from /proc/stat.
 */
import { readFileAt } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** The system-wide lines of /proc/stat node_exporter reports. */
export interface KernelStat {
  intr: number;
  ctxt: number;
  btime: number;
  processes: number;
  procsRunning: number;
  procsBlocked: number;
}

/** Parses the system-wide lines of /proc/stat (`intr` is its first number, the total). */
export function parseKernelStat(text: string): KernelStat {
  const v = new Map<string, number>();
  const lines = text.split('\n');
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
    const sp = line.indexOf(' ');
    if (sp <= 0 || line.startsWith('cpu')) continue;
    const key = line.slice(0, sp);
    if (key !== 'intr' && key !== 'ctxt' && key !== 'btime' && key !== 'processes' && key !== 'procs_running' && key !== 'procs_blocked') continue;
    const first = line.slice(sp + 1).trimStart();
    const end = first.indexOf(' ');
    const n = Number(end < 0 ? first : first.slice(0, end));
    if (Number.isFinite(n) && n >= 0) v.set(key, n);
  }
  if (!v.has('btime')) throw new Error('no btime line in /proc/stat');
  return {
    intr: v.get('intr') ?? 0, ctxt: v.get('ctxt') ?? 0, btime: v.get('btime')!, processes: v.get('processes') ?? 0,
    procsRunning: v.get('procs_running') ?? 0, procsBlocked: v.get('procs_blocked') ?? 0,
  };
}

export const statCollector: CollectorSpec = {
  name: 'stat',
  reads: '/proc/stat',
  enabled: true,
  every: 1,
  maxSeries: 16,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    const s = parseKernelStat(readFileAt(ctx.root, '/proc/stat'));
    out.counter('node_intr_total', 'Total number of interrupts serviced.')(s.intr);
    out.counter('node_context_switches_total', 'Total number of context switches.')(s.ctxt);
    out.counter('node_forks_total', 'Total number of forks.')(s.processes);
    out.gauge('node_boot_time_seconds', 'Node boot time, in unixtime.')(s.btime);
    out.gauge('node_procs_running', 'Number of processes in runnable state.')(s.procsRunning);
    out.gauge('node_procs_blocked', 'Number of processes blocked waiting for I/O to complete.')(s.procsBlocked);
  },
};
