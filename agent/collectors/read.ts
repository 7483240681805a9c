/**
 * Small I/O helpers shared by the collectors: every path is resolved under a
 * filesystem root so the same code reads the real host or a fixture tree.
 */
import * as fs from 'node:fs';
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { Unavailable } from '../../protocol/messages.ts';

/** Longest `reason` the protocol accepts; longer reasons are cut, never rejected by the hub. */
export const MAX_REASON = 1024;

/** Resolves an absolute host path (`/proc/stat`) under `root`. */
export function hostPath(root: string, path: string): string {
  return root === '/' ? path : join(root, path);
}

/**
 * fs's callback API as a promise. Not node:fs/promises: on Node 24 that
 * module and the ones it loads cost the agent ~0.7 MiB of memory, for the
 * four calls below.
 */
function promised<T>(call: (done: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => call((err, value) => (err ? reject(err) : resolve(value))));
}

/** Reads a whole text file under `root`, off the event loop: for disks and sysfs drivers that may be slow. */
export function readText(root: string, path: string): Promise<string> {
  return promised<string>((done) => fs.readFile(hostPath(root, path), 'utf8', done));
}

/** The names in a directory (an absolute path), off the event loop. */
export function readDir(path: string): Promise<string[]> {
  return promised<string[]>((done) => fs.readdir(path, done));
}

/** Where a symbolic link (an absolute path) points, off the event loop. */
export function readLink(path: string): Promise<string> {
  return promised<string>((done) => fs.readlink(path, done));
}

/** fs.statfs as a promise, or undefined on a Node before 18.15, which lacks it. */
export function statfsCall(): ((path: string) => Promise<fs.StatsFs>) | undefined {
  const call = (fs as { statfs?: typeof fs.statfs }).statfs;
  return call === undefined ? undefined : (path) => promised<fs.StatsFs>((done) => call(path, done));
}

/**
 * Reads a /proc file under `root` synchronously. procfs text is generated in
 * memory and never waits on a device, and a synchronous read costs about a
 * tenth of the CPU of fs.promises.readFile (~20 us against ~200 us measured on
 * Node 24): it is the bulk of what a sample costs. Errors still arrive as a
 * rejected promise, like readText's.
 */
export async function readProcText(root: string, path: string): Promise<string> {
  return readFileSync(hostPath(root, path), 'utf8');
}

/**
 * Remembers a parser's last text and what it gave: a /proc file that rarely
 * changes (the mount table) is read every interval, and parsing the same text
 * again would only allocate. The result is shared from call to call, so
 * callers must not change it.
 */
export function parseOnChange<T>(parse: (text: string) => T): (text: string) => T {
  let lastText: string | undefined;
  let last: T;
  return (text) => {
    if (text !== lastText) {
      last = parse(text);
      lastText = text;
    }
    return last;
  };
}

/** The errno code of a Node filesystem error (`ENOENT`), or undefined for anything else. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** True when the error only says the file or directory is not there. */
export function isAbsent(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** One line describing why something failed, short enough for the wire. */
export function reasonOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return truncate(text, MAX_REASON);
}

/** Cuts a string to at most `max` characters. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}

/**
 * Runs one collector; on failure records why in `unavailable` and returns
 * `fallback`, so one broken collector never hides the others.
 */
export async function attempt<T>(
  collector: string,
  unavailable: Unavailable[],
  fallback: T,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (err) {
    unavailable.push({ collector, reason: reasonOf(err) });
    return fallback;
  }
}

/**
 * Node 20 and later read a whole file in C++ (readFileUtf8); Node 18's
 * readFileSync is JavaScript that allocates a 64 KiB buffer for every file of
 * unknown size, which /proc and /sys files are: 44 us a file there, against
 * 29 us for {@link readWhole}'s pooled chunks (Node 24: 20 against 26).
 */
const READ_FILE_IN_CPP = Number(process.versions.node.split('.')[0]) >= 20;

/** Chunks of the read below: under half of Buffer.poolSize, so they come from Node's pool. */
const CHUNK = 4000;

/** A whole file's text (UTF-8): readFileSync where it is fast, {@link readInChunks} on Node 18. */
export function readWhole(file: string): string {
  return READ_FILE_IN_CPP ? readFileSync(file, 'utf8') : readInChunks(file);
}

/** A whole file's text (UTF-8) by open, reads into chunks from Node's buffer pool, close. */
export function readInChunks(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const first = Buffer.allocUnsafe(CHUNK);
    let n = readSync(fd, first, 0, CHUNK, null);
    if (n === 0) return '';
    // A read returns less than asked for when the file has more (a seq_file gives a page at a time): read to the end.
    if (n < CHUNK) {
      const m = readSync(fd, first, n, CHUNK - n, null);
      if (m === 0) return first.toString('utf8', 0, n);
      n += m;
    }
    const parts = [first.subarray(0, n)];
    for (;;) {
      const more = Buffer.allocUnsafe(CHUNK);
      const m = readSync(fd, more, 0, CHUNK, null);
      if (m === 0) break;
      parts.push(more.subarray(0, m));
    }
    return Buffer.concat(parts).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a /proc or /sys file under `root` synchronously: both are generated
 * in memory on the spot, and a synchronous read is a tenth of the CPU of an
 * asynchronous one (see readProcText). The metrics collectors read with it.
 */
export function readFileAt(root: string, path: string): string {
  return readWhole(hostPath(root, path));
}

/** A sysfs attribute, trimmed, or undefined when it cannot be read (absent, EINVAL from a device that is down...). */
export function tryReadSys(root: string, path: string): string | undefined {
  try {
    return readWhole(hostPath(root, path)).trim();
  } catch {
    return undefined;
  }
}

/** A sysfs attribute as a number, or undefined when it is unreadable or not a number. */
export function tryReadNumber(root: string, path: string): number | undefined {
  const text = tryReadSys(root, path);
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** The entries of a directory under `root`, sorted; none when it does not exist. */
export function listDir(root: string, dir: string): string[] {
  try {
    return readdirSync(hostPath(root, dir)).sort();
  } catch (err) {
    if (isAbsent(err)) return [];
    throw err;
  }
}

/**
 * A reader of small /proc files (latin1) into one buffer it keeps: open, one
 * read, close, with no fstat and no new buffer per file. That is about half
 * the CPU of readFileSync (10 against 20 us a file measured on Node 24), and
 * it matters to a collector that reads several files of every process every
 * interval. A file that fills the buffer is read again whole.
 */
export function createSmallFileReader(root: string, size = 8192): (path: string) => string {
  const buf = Buffer.alloc(size);
  return (path) => {
    const full = hostPath(root, path);
    const fd = openSync(full, 'r');
    let n: number;
    try {
      n = readSync(fd, buf, 0, size, 0);
    } finally {
      closeSync(fd);
    }
    return n < size ? buf.toString('latin1', 0, n) : readFileSync(full, 'latin1');
  };
}
