/**
 * /proc/meminfo: memory and swap use.
 */
import type { MemoryUse } from '../../protocol/messages.ts';
import { readProcText } from './read.ts';

/**
 * Parses /proc/meminfo into bytes. Kernels before 3.14 have no MemAvailable;
 * there free + buffers + cached stands in, the estimate `free` used to print.
 */
export function parseMeminfo(text: string): MemoryUse {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
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
