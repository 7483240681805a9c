/**
 * Reads /proc seq_files such as /proc/net/tcp with as little of the kernel's
 * walking as will do. Each read(2) of /proc/net/tcp or tcp6 that goes past
 * the listening sockets walks the whole established TCP hash (its size
 * follows the machine's memory, not the number of sockets): ~0.4 to 0.9 ms a
 * walk measured here on Node 24, and readFileSync makes two, the read that
 * returns the text and the one that finds its end.
 *
 * createSeqFileReader reads a whole file. The kernel fills a read from a
 * buffer of at least a page (4 KiB) and stops early only when the next record
 * would not fit in it; records of these files are under 512 bytes. So a first
 * read that returns less than a page minus that is the whole file, and the
 * read that would find the end is skipped. A longer one is read on to the end.
 *
 * createSeqPrefixReader reads only the leading records that pass a test: the
 * listening sockets, without the established ones after them.
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

/** What a prefix read asks the kernel for after its first read: about two records, so little is walked past the prefix. */
const NEXT_BYTES = 2 * MAX_RECORD;

/**
 * A reader of the leading records of seq_files under `root` (latin1): the
 * header line, then records while `keep(record)` holds; reading stops at the
 * first record it does not keep, or at the end.
 *
 * For /proc/net/tcp and tcp6, whose listening sockets all come first (since
 * Linux 4.4 half-open connections live in the established hash, not under
 * their listener; Node 18 needs 4.18): the kernel prints its listening hash,
 * then walks the established hash, whose size follows the machine's memory
 * (a quarter million buckets on 24 GiB). A read returns once it has about as
 * many bytes as asked for, so asking for `firstBytes` (the listeners last
 * seen, and a record more) and a record or two at a time after that stops the
 * walk at the first established socket of the family instead of its end, and
 * a busy server's thousands of connections are neither printed by the kernel
 * nor parsed here.
 */
export function createSeqPrefixReader(root: string): (path: string, keep: (record: string) => boolean, firstBytes: number) => string {
  // Reads ask for a few records at a time: 16 KiB holds ~90 listeners in one read, and more take more reads.
  const buf = Buffer.alloc(16 * 1024);
  return (path, keep, firstBytes) => {
    const fd = openSync(hostPath(root, path), 'r');
    try {
      let kept = '';
      let partial = '';
      let header = true;
      let want = Math.min(buf.length, Math.max(MAX_RECORD, Math.ceil(firstBytes)));
      for (;;) {
        // Sequential reads (position null): the kernel goes on from where the last one stopped.
        const n = readSync(fd, buf, 0, want, null);
        const text = partial + buf.toString('latin1', 0, n);
        let start = 0;
        for (let nl = text.indexOf('\n'); nl >= 0 || (n === 0 && start < text.length); nl = text.indexOf('\n', start)) {
          const end = nl >= 0 ? nl : text.length;
          const record = text.slice(start, end);
          if (!header && !keep(record)) return kept;
          header = false;
          kept += nl >= 0 ? text.slice(start, nl + 1) : record;
          start = end + 1;
        }
        if (n === 0) return kept;
        partial = text.slice(start);
        want = NEXT_BYTES;
      }
    } finally {
      closeSync(fd);
    }
  };
}
