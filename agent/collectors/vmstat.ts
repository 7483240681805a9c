/**
 * node_exporter's `vmstat` collector: the /proc/vmstat fields dashboards
 * use (OOM kills, paging, swapping, page faults), untyped as node_exporter
 * has them.
 */
import { readFileAt } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** node_exporter's default `--collector.vmstat.fields`. */
export const VMSTAT_FIELDS = /^(oom_kill|pgpg|pswp|pg.*fault).*/;

/** Parses /proc/vmstat (`name value` lines), keeping the fields that match. */
export function parseVmstat(text: string, fields: RegExp = VMSTAT_FIELDS): [string, number][] {
  const out: [string, number][] = [];
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const key = line.slice(0, sp);
    if (!fields.test(key)) continue;
    const n = Number(line.slice(sp + 1));
    if (Number.isFinite(n)) out.push([key, n]);
  }
  return out;
}

export const vmstatCollector: CollectorSpec = {
  name: 'vmstat',
  reads: '/proc/vmstat',
  enabled: true,
  every: 1,
  maxSeries: 512,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    for (const [key, n] of parseVmstat(readFileAt(ctx.root, '/proc/vmstat'))) out.untyped(`node_vmstat_${key}`, `/proc/vmstat information field ${key}.`)(n);
  },
};
