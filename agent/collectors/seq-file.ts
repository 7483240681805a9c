/**
 * Reads a /proc seq_file such as /proc/net/tcp with one walk of the kernel's
 * tables where that is enough. Each read(2) of /proc/net/tcp or tcp6 walks
 * the whole TCP hash (its size follows the machine's memory, not the number
 * of sockets): ~0.4 ms a walk measured here on Node 24, and readFileSync
 * makes two, the read that returns the text and the one that finds its end.
 *
 * The kernel fills a read from a buffer of at least a page (4 KiB) and stops
 * early only when the next record would not fit in it; records of these files
 * are under 512 bytes. So a first read that returns less than a page minus
 * that is the whole file, and the read that would find the end is skipped.
 * A longer one is read on to the end.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { hostPath } from './read.ts';

/** The smallest page, the least a seq_file read returns when there is more. */
const MIN_PAGE = 4096;
/** Longer than any record of the files this reads (/proc/net/{tcp,tcp6,udp,udp6}: 128 to 178 bytes). */
const MAX_RECORD = 512;

/** A reader of seq_files under `root` (latin1), with one buffer it keeps. */
export function createSeqFileReader(root: string, size = 64 * 1024): (path: string) => string {
  const buf = Buffer.alloc(size);
  return (path) => {
    const fd = openSync(hostPath(root, path), 'r');
    try {
      // Sequential reads (position null): a pread at an offset makes the kernel walk up to it again.
      let n = readSync(fd, buf, 0, size, null);
      if (n < MIN_PAGE - MAX_RECORD) return buf.toString('latin1', 0, n);
      const parts: string[] = [];
      while (n > 0) {
        parts.push(buf.toString('latin1', 0, n));
        n = readSync(fd, buf, 0, size, null);
      }
      return parts.join('');
    } finally {
      closeSync(fd);
    }
  };
}
