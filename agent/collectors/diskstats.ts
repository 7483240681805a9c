/**
 * node_exporter's `diskstats` collector: disk I/O per block device from
 * /proc/diskstats (reads, writes, bytes, time busy, queue), plus what udev
 * knows of each disk (model, serial, filesystem) from /run/udev/data.
 */
import { readFileAt } from './read.ts';
import type { MetricWriter } from './metric-writer.ts';
import type { CollectorSpec } from './registry.ts';

/** node_exporter's default `--collector.diskstats.device-exclude`: RAM disks, loops, floppies and partitions of sd/hd/vd/xvd/nvme disks. */
export const DISKSTATS_EXCLUDE = /^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$/;

/** One line of /proc/diskstats: 11 statistics before Linux 4.18, 15 with discards, 17 with flushes (5.5). */
export interface DiskLine {
  major: string;
  minor: string;
  device: string;
  stats: number[];
}

/** Parses /proc/diskstats. */
export function parseDiskstats(text: string): DiskLine[] {
  const out: DiskLine[] = [];
  const lines = text.split('\n');
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const stats = f.slice(3).map(Number);
    if (!stats.every((n) => Number.isFinite(n) && n >= 0)) continue;
    out.push({ major: f[0]!, minor: f[1]!, device: f[2]!, stats });
  }
  return out;
}

/** The statistics in /proc/diskstats order: family, help, counter or not, factor (sectors -> bytes, ms -> s). */
const STATS: [string, string, boolean, number][] = [
  ['node_disk_reads_completed_total', 'The total number of reads completed successfully.', true, 1],
  ['node_disk_reads_merged_total', 'The total number of reads merged.', true, 1],
  ['node_disk_read_bytes_total', 'The total number of bytes read successfully.', true, 512],
  ['node_disk_read_time_seconds_total', 'The total number of seconds spent by all reads.', true, 0.001],
  ['node_disk_writes_completed_total', 'The total number of writes completed successfully.', true, 1],
  ['node_disk_writes_merged_total', 'The number of writes merged.', true, 1],
  ['node_disk_written_bytes_total', 'The total number of bytes written successfully.', true, 512],
  ['node_disk_write_time_seconds_total', 'This is the total number of seconds spent by all writes.', true, 0.001],
  ['node_disk_io_now', 'The number of I/Os currently in progress.', false, 1],
  ['node_disk_io_time_seconds_total', 'Total seconds spent doing I/Os.', true, 0.001],
  ['node_disk_io_time_weighted_seconds_total', 'The weighted # of seconds spent doing I/Os.', true, 0.001],
  ['node_disk_discards_completed_total', 'The total number of discards completed successfully.', true, 1],
  ['node_disk_discards_merged_total', 'The total number of discards merged.', true, 1],
  ['node_disk_discarded_sectors_total', 'The total number of sectors discarded successfully.', true, 1],
  ['node_disk_discard_time_seconds_total', 'This is the total number of seconds spent by all discards.', true, 0.001],
  ['node_disk_flush_requests_total', 'The total number of flush requests completed successfully', true, 1],
  ['node_disk_flush_requests_time_seconds_total', 'This is the total number of seconds spent by all flush requests.', true, 0.001],
];

/** Parses a udev database file (`E:KEY=VALUE` lines) into its properties. */
export function parseUdevData(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split('\n');
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
    if (!line.startsWith('E:')) continue;
    const eq = line.indexOf('=');
    if (eq > 2) out.set(line.slice(2, eq), line.slice(eq + 1));
  }
  return out;
}

/** Writes one disk's families. */
export function writeDisk(out: MetricWriter, d: DiskLine, udev: Map<string, string>): void {
  const u = (k: string) => udev.get(k) ?? '';
  out.gauge('node_disk_info', 'Info of /sys/block/<block_device>.', ['device', 'major', 'minor', 'path', 'wwn', 'model', 'serial', 'revision'])(
    1, d.device, d.major, d.minor, u('ID_PATH'), u('ID_WWN'), u('ID_MODEL'), u('ID_SERIAL_SHORT'), u('ID_REVISION'));
  d.stats.slice(0, STATS.length).forEach((v, i) => {
    const [name, help, counter, factor] = STATS[i]!;
    (counter ? out.counter : out.gauge)(name, help, ['device'])(v * factor, d.device);
  });
  if (u('ID_FS_TYPE')) {
    out.gauge('node_disk_filesystem_info', 'Info about disk filesystem.', ['device', 'type', 'usage', 'uuid', 'version'])(
      1, d.device, u('ID_FS_TYPE'), u('ID_FS_USAGE'), u('ID_FS_UUID'), u('ID_FS_VERSION'));
  }
  if (u('DM_NAME')) {
    out.gauge('node_disk_device_mapper_info', 'Info about disk device mapper.', ['device', 'name', 'uuid', 'vg_name', 'lv_name', 'lv_layer'])(
      1, d.device, u('DM_NAME'), u('DM_UUID'), u('DM_VG_NAME'), u('DM_LV_NAME'), u('DM_LV_LAYER'));
  }
  if (u('ID_ATA')) {
    for (const [key, name, help] of [
      ['ID_ATA_WRITE_CACHE', 'node_disk_ata_write_cache', 'ATA disk has a write cache.'],
      ['ID_ATA_WRITE_CACHE_ENABLED', 'node_disk_ata_write_cache_enabled', 'ATA disk has its write cache enabled.'],
      ['ID_ATA_ROTATION_RATE_RPM', 'node_disk_ata_rotation_rate_rpm', 'ATA disk rotation rate in RPMs (0 for SSDs).'],
    ] as const) {
      const raw = udev.get(key);
      if (raw === undefined || !Number.isFinite(Number(raw))) continue;
      out.gauge(name, help, ['device'])(Number(raw), d.device);
    }
  }
}

export const diskstatsCollector: CollectorSpec = {
  name: 'diskstats',
  reads: '/proc/diskstats, /run/udev/data/b<major>:<minor>',
  enabled: true,
  every: 1,
  maxSeries: 24 * 1024,
  whenAbsent: 'nodata',
  create(ctx) {
    const udev = new Map<string, Map<string, string>>();
    let runs = 0;
    return (out) => {
      // udev's view of a disk changes when it is replugged or reformatted: read it again every few minutes.
      if (runs++ % 30 === 0) udev.clear();
      const disks = parseDiskstats(readFileAt(ctx.root, '/proc/diskstats'));
      for (let ix = 0; ix < disks.length; ix++) {
        const d = disks[ix]!;
        if (DISKSTATS_EXCLUDE.test(d.device)) continue;
        const key = `${d.major}:${d.minor}`;
        let props = udev.get(key);
        if (!props) {
          try {
            props = parseUdevData(readFileAt(ctx.root, `/run/udev/data/b${key}`));
          } catch {
            props = new Map(); // no udev (a container, a minimal VM): the labels stay empty, as in node_exporter
          }
          udev.set(key, props);
        }
        writeDisk(out, d, props);
      }
    };
  },
};
