/**
 * node_exporter's `filefd` collector: open file handles and their limit,
 * from /proc/sys/fs/file-nr.
 */
import { readFileAt } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** Parses /proc/sys/fs/file-nr (`allocated unused maximum`). */
export function parseFileNr(text: string): { allocated: number; maximum: number } {
  const [allocated, , maximum] = text.trim().split(/\s+/).map(Number);
  if (allocated === undefined || maximum === undefined || !Number.isFinite(allocated) || !Number.isFinite(maximum)) {
    throw new Error(`unexpected /proc/sys/fs/file-nr: ${JSON.stringify(text.slice(0, 64))}`);
  }
  return { allocated, maximum };
}

export const filefdCollector: CollectorSpec = {
  name: 'filefd',
  reads: '/proc/sys/fs/file-nr',
  enabled: true,
  every: 1,
  maxSeries: 2,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    const f = parseFileNr(readFileAt(ctx.root, '/proc/sys/fs/file-nr'));
    out.gauge('node_filefd_allocated', 'File descriptor statistics: allocated.')(f.allocated);
    out.gauge('node_filefd_maximum', 'File descriptor statistics: maximum.')(f.maximum);
  },
};
