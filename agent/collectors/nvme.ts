/**
 * node_exporter's `nvme` collector: each NVMe controller's model, serial,
 * firmware and state, from /sys/class/nvme.
 */
import { existsSync } from 'node:fs';
import { hostPath, listDir, tryReadSys } from './read.ts';
import { NoDataError, type CollectorSpec } from './registry.ts';

export const nvmeCollector: CollectorSpec = {
  name: 'nvme',
  reads: '/sys/class/nvme/nvme*/{firmware_rev,model,serial,state}',
  enabled: true,
  every: 6,
  maxSeries: 1024,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    if (!existsSync(hostPath(ctx.root, '/sys/class/nvme'))) throw new NoDataError('no /sys/class/nvme');
    const info = out.gauge('node_nvme_info', 'Non-numeric data from /sys/class/nvme/<device>, value is always 1.', ['device', 'firmware_revision', 'model', 'serial', 'state']);
    for (const d of listDir(ctx.root, '/sys/class/nvme')) {
      const f = (name: string) => tryReadSys(ctx.root, `/sys/class/nvme/${d}/${name}`) ?? '';
      info(1, d, f('firmware_rev'), f('model'), f('serial'), f('state'));
    }
  },
};
