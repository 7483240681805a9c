/**
 * node_exporter's `edac` collector: corrected and uncorrected memory
 * errors per memory controller and chip-select row (ECC memory), from
 * /sys/devices/system/edac/mc.
 */
import { listDir, readFileAt } from './read.ts';
import type { CollectorSpec } from './registry.ts';

export const edacCollector: CollectorSpec = {
  name: 'edac',
  reads: '/sys/devices/system/edac/mc/mc*/{ce,ue}_{count,noinfo_count}, .../csrow*/{ce,ue}_count',
  enabled: true,
  every: 1,
  maxSeries: 8192,
  whenAbsent: 'quiet',
  create: (ctx) => (out) => {
    const num = (path: string) => {
      const n = Number(readFileAt(ctx.root, path).trim());
      if (!Number.isFinite(n)) throw new Error(`not a number in ${path}`);
      return n;
    };
    const ce = out.counter('node_edac_correctable_errors_total', 'Total correctable memory errors.', ['controller']);
    const ue = out.counter('node_edac_uncorrectable_errors_total', 'Total uncorrectable memory errors.', ['controller']);
    const rowCe = out.counter('node_edac_csrow_correctable_errors_total', 'Total correctable memory errors for this csrow.', ['controller', 'csrow']);
    const rowUe = out.counter('node_edac_csrow_uncorrectable_errors_total', 'Total uncorrectable memory errors for this csrow.', ['controller', 'csrow']);
    for (const mc of listDir(ctx.root, '/sys/devices/system/edac/mc')) {
      const m = /^mc(\d*)$/.exec(mc);
      if (!m) continue;
      const dir = `/sys/devices/system/edac/mc/${mc}`;
      const controller = m[1]!;
      ce(num(`${dir}/ce_count`), controller);
      rowCe(num(`${dir}/ce_noinfo_count`), controller, 'unknown');
      ue(num(`${dir}/ue_count`), controller);
      rowUe(num(`${dir}/ue_noinfo_count`), controller, 'unknown');
      for (const row of listDir(ctx.root, dir)) {
        const r = /^csrow(\d*)$/.exec(row);
        if (!r) continue;
        rowCe(num(`${dir}/${row}/ce_count`), controller, r[1]!);
        rowUe(num(`${dir}/${row}/ue_count`), controller, r[1]!);
      }
    }
  },
};
