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
  const lines = text.split('\n');
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
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
    const fields = parseVmstat(readFileAt(ctx.root, '/proc/vmstat'));
    for (let ix = 0; ix < fields.length; ix++) {
      const [key, n] = fields[ix]!;
      out.untyped(`node_vmstat_${key}`, `/proc/vmstat information field ${key}.`)(n);
    }
  },
};
