/**
 * node_exporter's `cpufreq` collector: each CPU's current, minimum and
 * maximum frequency, from cpufreq in sysfs (a Raspberry Pi's throttling
 * shows here). cpuinfo_cur_freq is readable by root only; scaling_cur_freq
 * by anyone.
 */
import { listDir, tryReadNumber } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** The files read, the family each gives (kHz -> Hz) and its help, in node_exporter's order. */
const FILES = [
  ['cpuinfo_cur_freq', 'node_cpu_frequency_hertz', 'Current cpu thread frequency in hertz.'],
  ['cpuinfo_min_freq', 'node_cpu_frequency_min_hertz', 'Minimum cpu thread frequency in hertz.'],
  ['cpuinfo_max_freq', 'node_cpu_frequency_max_hertz', 'Maximum cpu thread frequency in hertz.'],
  ['scaling_cur_freq', 'node_cpu_scaling_frequency_hertz', 'Current scaled CPU thread frequency in hertz.'],
  ['scaling_min_freq', 'node_cpu_scaling_frequency_min_hertz', 'Minimum scaled CPU thread frequency in hertz.'],
  ['scaling_max_freq', 'node_cpu_scaling_frequency_max_hertz', 'Maximum scaled CPU thread frequency in hertz.'],
] as const;

export const cpufreqCollector: CollectorSpec = {
  name: 'cpufreq',
  reads: '/sys/devices/system/cpu/cpu*/cpufreq/{cpuinfo,scaling}_{cur,min,max}_freq',
  enabled: true,
  every: 1,
  maxSeries: 6 * 4096,
  whenAbsent: 'quiet',
  create(ctx) {
    let cpus: string[] = [];
    let runs = 0;
    return (out) => {
      // CPUs with cpufreq come and go with hotplug only: look every few minutes.
      if (runs++ % 30 === 0) {
        cpus = listDir(ctx.root, '/sys/devices/system/cpu').filter((d) => /^cpu\d+$/.test(d) && listDir(ctx.root, `/sys/devices/system/cpu/${d}/cpufreq`).length > 0);
      }
      const fams = FILES.map(([, name, help]) => out.gauge(name, help, ['cpu']));
      for (const d of cpus) {
        FILES.forEach(([file], i) => {
          const khz = tryReadNumber(ctx.root, `/sys/devices/system/cpu/${d}/cpufreq/${file}`);
          if (khz !== undefined) fams[i]!(khz * 1000, d.slice(3));
        });
      }
    };
  },
};
