/**
 * /proc/meminfo: memory and swap use.
 */
import type { MemoryUse } from '../../protocol/messages.ts';
import { readFileAt, readProcText } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/**
 * Parses /proc/meminfo into bytes. Kernels before 3.14 have no MemAvailable;
 * there free + buffers + cached stands in, the estimate `free` used to print.
 */
export function parseMeminfo(text: string): MemoryUse {
  const kb = new Map<string, number>();
  const lines = text.split('\n');
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
    const m = /^([^:\s]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) kb.set(m[1], Number(m[2]));
  }
  const total = kb.get('MemTotal');
  if (total === undefined) throw new Error('no MemTotal in /proc/meminfo');
  const bytes = (key: string): number => (kb.get(key) ?? 0) * 1024;
  const freeBytes = bytes('MemFree');
  const buffersBytes = bytes('Buffers');
  const cachedBytes = bytes('Cached');
  return {
    totalBytes: total * 1024,
    availableBytes: kb.has('MemAvailable') ? bytes('MemAvailable') : freeBytes + buffersBytes + cachedBytes,
    freeBytes,
    buffersBytes,
    cachedBytes,
    swapTotalBytes: bytes('SwapTotal'),
    swapFreeBytes: bytes('SwapFree'),
  };
}

/** Reads and parses `<root>/proc/meminfo`. */
export async function readMeminfo(root: string): Promise<MemoryUse> {
  return parseMeminfo(await readProcText(root, '/proc/meminfo'));
}

/**
 * Parses /proc/meminfo the way node_exporter names its fields: `Active(anon)`
 * becomes `Active_anon`, a field in kB becomes `<name>_bytes` in bytes, a
 * count (`HugePages_Total`) keeps its name.
 */
export function parseMeminfoFields(text: string): [string, number][] {
  const out: [string, number][] = [];
  const lines = text.split('\n');
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
    const parts = line.trim().split(/\s+/);
    if (parts.length < 2 || parts[0] === '') continue;
    const n = Number(parts[1]);
    if (!Number.isFinite(n)) throw new Error(`invalid value in meminfo: ${JSON.stringify(line.slice(0, 80))}`);
    const key = parts[0]!.slice(0, -1).replace(/\((.*)\)/, '_$1');
    if (parts.length === 2) out.push([key, n]);
    else if (parts.length === 3) out.push([`${key}_bytes`, n * 1024]);
    else throw new Error(`invalid line in meminfo: ${JSON.stringify(line.slice(0, 80))}`);
  }
  return out;
}

/** node_exporter's `meminfo` collector: every field of /proc/meminfo. */
export const meminfoCollector: CollectorSpec = {
  name: 'meminfo',
  reads: '/proc/meminfo',
  enabled: true,
  every: 1,
  maxSeries: 256,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    const fields = parseMeminfoFields(readFileAt(ctx.root, '/proc/meminfo'));
    for (let ix = 0; ix < fields.length; ix++) {
      const [key, v] = fields[ix]!;
      const help = `Memory information field ${key}.`;
      if (key.endsWith('_total')) out.counter(`node_memory_${key}`, help)(v);
      else out.gauge(`node_memory_${key}`, help)(v);
    }
  },
};
