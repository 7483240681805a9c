/**
 * Small files that must survive a power cut whole: written to a temporary
 * file, fsync'd, renamed over the old one, and the directory fsync'd so the
 * rename itself is on disk. A reader sees the old file or the new one, never
 * a torn one. Shared by the journal's acked position and the log positions.
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes all of `buf` at the file's current offset (writeSync may write less than asked). */
export function writeAll(fd: number, buf: Buffer): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
}

/** fsyncs a directory, so entries created or renamed in it are durable; only a real I/O error throws. */
export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch (err) {
    // Some filesystems cannot fsync a directory at all (EINVAL); only a real I/O error matters.
    if ((err as NodeJS.ErrnoException).code === 'EIO') throw err;
  } finally {
    closeSync(fd);
  }
}

/** Replaces `file` with `text` atomically and durably (mode 0600); throws what the disk refused. */
export function replaceFileDurably(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeAll(fd, Buffer.from(text));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDir(dirname(file));
}
