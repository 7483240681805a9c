/**
 * node_exporter's `pressure` collector: pressure stall information (PSI)
 * from /proc/pressure, kernels 4.20 and later built with it.
 */
import { readFileAt } from './read.ts';
import { NoDataError, type CollectorSpec } from './registry.ts';

/** The totals of one /proc/pressure file, in seconds; `full` is absent from kernels' cpu file before 5.13. */
export interface Pressure {
  some: number;
  full: number | undefined;
}

/** Parses a /proc/pressure file (`some avg10=0.00 avg60=0.00 avg300=0.00 total=12345` in microseconds). */
export function parsePressure(text: string): Pressure {
  let some: number | undefined;
  let full: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^(some|full) .*\btotal=(\d+)/.exec(line);
    if (!m) continue;
    const seconds = Number(m[2]) / 1e6;
    if (m[1] === 'some') some = seconds;
    else full = seconds;
  }
  if (some === undefined) throw new Error('no "some" line in a /proc/pressure file');
  return { some, full };
}

export const pressureCollector: CollectorSpec = {
  name: 'pressure',
  reads: '/proc/pressure/{cpu,io,memory}',
  enabled: true,
  every: 1,
  maxSeries: 8,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    const read = (what: string): Pressure => {
      try {
        return parsePressure(readFileAt(ctx.root, `/proc/pressure/${what}`));
      } catch (err) {
        // A kernel without PSI (or booted with psi=0) has no such files, or files that refuse reads.
        if (err instanceof Error && 'code' in err && (err.code === 'ENOENT' || err.code === 'EOPNOTSUPP')) throw new NoDataError(`no /proc/pressure/${what}`);
        throw err;
      }
    };
    const cpu = read('cpu');
    out.counter('node_pressure_cpu_waiting_seconds_total', 'Total time in seconds that processes have waited for CPU time')(cpu.some);
    const io = read('io');
    out.counter('node_pressure_io_waiting_seconds_total', 'Total time in seconds that processes have waited due to IO congestion')(io.some);
    out.counter('node_pressure_io_stalled_seconds_total', 'Total time in seconds no process could make progress due to IO congestion')(io.full ?? 0);
    const mem = read('memory');
    out.counter('node_pressure_memory_waiting_seconds_total', 'Total time in seconds that processes have waited for memory')(mem.some);
    out.counter('node_pressure_memory_stalled_seconds_total', 'Total time in seconds no process could make progress due to memory congestion')(mem.full ?? 0);
  },
};
