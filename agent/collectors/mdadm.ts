/**
 * node_exporter's `mdadm` collector: Linux software RAID arrays from
 * /proc/mdstat: disks active, failed and spare, sync progress and state.
 */
import { isAbsent, readFileAt } from './read.ts';
import { NoDataError, type CollectorSpec } from './registry.ts';

/** One array as procfs's MDStat describes it. */
export interface MdArray {
  name: string;
  /** active, inactive, recovering, resyncing or checking. */
  state: string;
  disksActive: number;
  disksFailed: number;
  disksSpare: number;
  disksTotal: number;
  blocksTotal: number;
  blocksSynced: number;
}

const STATUS = /(\d+) blocks .*\[(\d+)\/(\d+)\] \[([U_]+)\]/;
const RECOVERY = /\((\d+)\/\d+\)/;

/** Parses /proc/mdstat as procfs (v0.8, node_exporter 1.5's) does. */
export function parseMdstat(text: string): MdArray[] {
  const out: MdArray[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '' || line[0] === ' ' || line.startsWith('Personalities') || line.startsWith('unused')) return;
    const fields = line.trim().split(/\s+/);
    if (fields.length < 3) throw new Error(`not enough fields in an mdstat line: ${JSON.stringify(line.slice(0, 80))}`);
    const name = fields[0]!;
    let state = fields[2]!;
    if (lines.length <= i + 3) throw new Error(`too few lines for ${name} in /proc/mdstat`);
    const status = lines[i + 1]!;
    const blocksTotal = Number(status.trim().split(/\s+/)[0]);
    if (!Number.isFinite(blocksTotal)) throw new Error(`unexpected status line for ${name}`);
    let disksActive: number;
    let disksTotal: number;
    if (line.includes('raid0') || line.includes('linear')) {
      disksTotal = disksActive = (line.match(/\[/g) ?? []).length;
    } else if (line.includes('inactive')) {
      disksTotal = disksActive = 0;
    } else {
      const m = STATUS.exec(status);
      if (!m) throw new Error(`cannot read the status line of ${name}: ${JSON.stringify(status.trim().slice(0, 80))}`);
      disksTotal = Number(m[2]);
      disksActive = Number(m[3]);
    }
    let syncIdx = i + 2;
    if (lines[i + 2]!.includes('bitmap')) syncIdx++;
    const sync = lines[syncIdx] ?? '';
    let blocksSynced = blocksTotal;
    const recovering = sync.includes('recovery');
    const resyncing = sync.includes('resync');
    const checking = sync.includes('check');
    if (recovering || resyncing || checking) {
      state = recovering ? 'recovering' : checking ? 'checking' : 'resyncing';
      if (sync.includes('PENDING') || sync.includes('DELAYED')) blocksSynced = 0;
      else {
        const r = RECOVERY.exec(sync);
        if (!r) throw new Error(`cannot read the sync line of ${name}`);
        blocksSynced = Number(r[1]);
      }
    }
    out.push({
      name, state, disksActive, disksTotal, blocksTotal, blocksSynced,
      disksFailed: (line.match(/\(F\)/g) ?? []).length, disksSpare: (line.match(/\(S\)/g) ?? []).length,
    });
  });
  return out;
}

export const mdadmCollector: CollectorSpec = {
  name: 'mdadm',
  reads: '/proc/mdstat',
  enabled: true,
  every: 1,
  maxSeries: 12 * 1024,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    let text: string;
    try {
      text = readFileAt(ctx.root, '/proc/mdstat');
    } catch (err) {
      if (isAbsent(err)) throw new NoDataError('no /proc/mdstat (md not loaded)');
      throw err;
    }
    const required = out.gauge('node_md_disks_required', 'Total number of disks of device.', ['device']);
    const disks = out.gauge('node_md_disks', 'Number of active/failed/spare disks of device.', ['device', 'state']);
    const state = out.gauge('node_md_state', 'Indicates the state of md-device.', ['device', 'state']);
    const blocks = out.gauge('node_md_blocks', 'Total number of blocks on device.', ['device']);
    const synced = out.gauge('node_md_blocks_synced', 'Number of blocks synced on device.', ['device']);
    for (const a of parseMdstat(text)) {
      required(a.disksTotal, a.name);
      disks(a.disksActive, a.name, 'active');
      disks(a.disksFailed, a.name, 'failed');
      disks(a.disksSpare, a.name, 'spare');
      for (const [label, s] of [['active', 'active'], ['inactive', 'inactive'], ['recovering', 'recovering'], ['resync', 'resyncing'], ['check', 'checking']]) {
        state(a.state === s ? 1 : 0, a.name, label!);
      }
      blocks(a.blocksTotal, a.name);
      synced(a.blocksSynced, a.name);
    }
  },
};
