/**
 * node_exporter's `dmi` collector: the machine's firmware, board, chassis
 * and product strings from /sys/class/dmi/id (x86 and some arm64 servers;
 * a Raspberry Pi has none), as labels of node_dmi_info.
 */
import { tryReadSys } from './read.ts';
import { NoDataError, type CollectorSpec } from './registry.ts';

/** node_dmi_info's labels, which are also the files read. */
export const DMI_LABELS = [
  'bios_date', 'bios_release', 'bios_vendor', 'bios_version', 'board_asset_tag', 'board_name', 'board_serial', 'board_vendor', 'board_version',
  'chassis_asset_tag', 'chassis_serial', 'chassis_vendor', 'chassis_version', 'product_family', 'product_name', 'product_serial', 'product_sku',
  'product_uuid', 'product_version', 'sys_vendor',
] as const;

export const dmiCollector: CollectorSpec = {
  name: 'dmi',
  reads: '/sys/class/dmi/id/*',
  enabled: true,
  every: 30,
  maxSeries: 1,
  whenAbsent: 'nodata',
  create(ctx) {
    // Read once, as node_exporter does: firmware strings change with a reboot into new firmware only. Serials are root-only.
    const found: [string, string][] = [];
    for (const file of DMI_LABELS) {
      const v = tryReadSys(ctx.root, `/sys/class/dmi/id/${file}`);
      if (v !== undefined) found.push([file === 'sys_vendor' ? 'system_vendor' : file, v]);
    }
    return (out) => {
      if (found.length === 0) throw new NoDataError('no /sys/class/dmi/id');
      out.gauge('node_dmi_info', 'A metric with a constant \'1\' value labeled by bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, product_sku, product_uuid, product_version, system_vendor if provided by DMI.',
        found.map(([l]) => l))(1, ...found.map(([, v]) => v));
    };
  },
};
