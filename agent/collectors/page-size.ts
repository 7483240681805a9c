/**
 * The kernel's page size, which Node does not expose: 4 KiB on most hosts,
 * 16 KiB on a Raspberry Pi 5's default kernel, 64 KiB on some arm64 servers.
 * Read once from the first mapping in /proc/self/smaps.
 */
import { closeSync, openSync, readSync } from 'node:fs';

let cached: number | undefined;

/** Parses `KernelPageSize:        4 kB` out of the start of /proc/self/smaps. */
export function parseKernelPageSize(text: string): number | undefined {
  const m = /KernelPageSize:\s+(\d+) kB/.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** The page size in bytes (4096 when it cannot be read). */
export function pageSize(): number {
  if (cached !== undefined) return cached;
  cached = 4096;
  try {
    // Only the first mapping's block: the whole file is hundreds of KiB.
    const fd = openSync('/proc/self/smaps', 'r');
    try {
      const buf = Buffer.alloc(2048);
      const n = readSync(fd, buf, 0, buf.length, 0);
      cached = parseKernelPageSize(buf.toString('utf8', 0, n)) ?? 4096;
    } finally {
      closeSync(fd);
    }
  } catch {
    // not Linux, or no procfs: keep 4 KiB
  }
  return cached;
}
