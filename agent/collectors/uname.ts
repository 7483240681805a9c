/**
 * Host name and kernel release, read from /proc/sys/kernel like uname(2) reports them.
 */
import { readProcText } from './read.ts';

/** Parses a one-value /proc/sys file such as `kernel/hostname`. */
export function parseSysctlValue(text: string): string {
  const value = text.trim();
  if (value === '') throw new Error('empty value');
  return value;
}

/** Reads the kernel's host name (`<root>/proc/sys/kernel/hostname`). */
export async function readHostname(root: string): Promise<string> {
  return parseSysctlValue(await readProcText(root, '/proc/sys/kernel/hostname'));
}

/** Reads the kernel release (`<root>/proc/sys/kernel/osrelease`), e.g. `6.1.0-28-amd64`. */
export async function readKernelRelease(root: string): Promise<string> {
  return parseSysctlValue(await readProcText(root, '/proc/sys/kernel/osrelease'));
}
