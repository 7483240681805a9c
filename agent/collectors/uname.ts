/**
 * Host name and kernel release, read from /proc/sys/kernel like uname(2) reports them.
 */
import * as os from 'node:os';
import { readFileAt, readProcText, tryReadSys } from './read.ts';
import type { CollectorSpec } from './registry.ts';

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

/**
 * The machine field of uname(2) (`x86_64`, `aarch64`, `armv7l`): newer
 * kernels give it in /proc/sys/kernel/arch; else os.machine() (Node 18.9+),
 * else the runtime's architecture in uname's words.
 */
export function unameMachine(root: string): string {
  const arch = tryReadSys(root, '/proc/sys/kernel/arch');
  if (arch) return arch;
  const machine = (os as { machine?: () => string }).machine?.();
  if (machine) return machine;
  return ({ x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', ia32: 'i686' } as Record<string, string>)[process.arch] ?? process.arch;
}

/** node_exporter's `uname` collector: node_uname_info with all six of uname(2)'s fields. */
export const unameCollector: CollectorSpec = {
  name: 'uname',
  reads: '/proc/sys/kernel/{ostype,osrelease,version,hostname,domainname}',
  enabled: true,
  every: 6,
  maxSeries: 1,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    const read = (f: string) => parseSysctlValue(readFileAt(ctx.root, `/proc/sys/kernel/${f}`));
    out.gauge('node_uname_info', 'Labeled system information as provided by the uname system call.', ['domainname', 'machine', 'nodename', 'release', 'sysname', 'version'])(
      1, tryReadSys(ctx.root, '/proc/sys/kernel/domainname') ?? '(none)', unameMachine(ctx.root), read('hostname'), read('osrelease'),
      tryReadSys(ctx.root, '/proc/sys/kernel/ostype') ?? 'Linux', read('version'),
    );
  },
};
