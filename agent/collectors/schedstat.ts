/**
 * node_exporter's `schedstat` collector: per CPU, time spent running and
 * waiting to run, and timeslices, from /proc/schedstat.
 */
import { isAbsent, readFileAt } from './read.ts';
import { NoDataError, type CollectorSpec } from './registry.ts';

/** One CPU of /proc/schedstat, in nanoseconds and timeslices. */
export interface SchedstatCpu {
  cpu: string;
  runningNs: number;
  waitingNs: number;
  timeslices: number;
}

/** Parses the `cpuN` lines of /proc/schedstat: their 7th, 8th and 9th numbers. */
export function parseSchedstat(text: string): SchedstatCpu[] {
  const out: SchedstatCpu[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    const f = line.trim().split(/\s+/);
    const cpu = f[0]!.slice(3);
    if (!/^\d+$/.test(cpu) || f.length < 10) continue;
    out.push({ cpu, runningNs: Number(f[7]), waitingNs: Number(f[8]), timeslices: Number(f[9]) });
  }
  return out;
}

export const schedstatCollector: CollectorSpec = {
  name: 'schedstat',
  reads: '/proc/schedstat',
  enabled: true,
  every: 1,
  maxSeries: 3 * 4096,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    let text: string;
    try {
      text = readFileAt(ctx.root, '/proc/schedstat');
    } catch (err) {
      if (isAbsent(err)) throw new NoDataError('no /proc/schedstat (a kernel without CONFIG_SCHEDSTATS)');
      throw err;
    }
    const running = out.counter('node_schedstat_running_seconds_total', 'Number of seconds CPU spent running a process.', ['cpu']);
    const waiting = out.counter('node_schedstat_waiting_seconds_total', 'Number of seconds spent by processing waiting for this CPU.', ['cpu']);
    const slices = out.counter('node_schedstat_timeslices_total', 'Number of timeslices executed by CPU.', ['cpu']);
    for (const c of parseSchedstat(text)) {
      running(c.runningNs / 1e9, c.cpu);
      waiting(c.waitingNs / 1e9, c.cpu);
      slices(c.timeslices, c.cpu);
    }
  },
};
