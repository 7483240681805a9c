/**
 * Every process on the node, from /proc. In steady state a read costs one
 * /proc/PID/stat per process, and none when the process groups collector
 * read them a moment ago (proc-scan.ts): the command line, owner (cgroup) and user are
 * read once per process and kept while its pid, start time and name stay the
 * same (exec changes the name, not the start time).
 * Kernel threads are left out. An idle process yields an identical record on
 * every read, so the workload diff sends it only once.
 */
import { openSync, readSync, closeSync, readFileSync, statSync } from 'node:fs';
import type { Owner, ProcessInfo } from '../../protocol/workloads.ts';
import { MAX_CMDLINE } from '../../protocol/plain.ts';
import { redactArgs } from '../../protocol/redact.ts';
import { parseCgroupOwner } from './cgroup-owner.ts';
import { createProcScan, isKernelThread, type ProcScan } from './proc-scan.ts';
import { hostPath, truncate } from './read.ts';

export { parseProcStat, type ProcStat } from './proc-scan.ts';

/**
 * USER_HZ, the unit of times in /proc/PID/stat. It is 100 on every Linux
 * architecture muster runs on (the kernel fixes it for userspace ABI; only
 * sysconf(_SC_CLK_TCK) could say otherwise, and Node cannot call it).
 */
export const USER_HZ = 100;

/** Parses /etc/passwd into uid -> name. */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    const uid = Number(f[2]);
    if (f[0] && Number.isInteger(uid) && !users.has(uid)) users.set(uid, f[0]);
  }
  return users;
}

/**
 * Turns NUL-separated /proc/PID/cmdline into one line, secrets redacted.
 * Redacted before it is joined (the argument boundaries are exact only
 * here) and before it is cut (a cut could leave half a password unrecognised).
 */
export function parseCmdline(raw: string): string {
  const args = raw.replace(/\0+$/, '').split('\0');
  return truncate(redactArgs(args).join(' ').trim(), MAX_CMDLINE);
}

/** The memory page size, from the first mapping of /proc/self/smaps (Node cannot call getpagesize). */
export function readPageSize(root: string): number {
  let fd: number | undefined;
  try {
    fd = openSync(hostPath(root, '/proc/self/smaps'), 'r');
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const m = /KernelPageSize:\s+(\d+) kB/.exec(buf.subarray(0, n).toString('latin1'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // fall through to the common default
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return 4096;
}

/** The boot time in seconds since the epoch, from /proc/stat's btime. */
export function readBootTime(root: string): number {
  const m = /^btime (\d+)$/m.exec(readFileSync(hostPath(root, '/proc/stat'), 'utf8'));
  if (!m) throw new Error('no btime in /proc/stat');
  return Number(m[1]);
}

/** uid -> user name from /etc/passwd, read again when the file changes. */
export interface UserNames {
  /** Rereads /etc/passwd if it changed since the last call. */
  refresh(): void;
  /** The name of a uid, or the uid as a number when passwd has none. */
  name(uid: number): string;
}

/** Creates an empty table; the first refresh() reads the file. */
export function createUserNames(root: string): UserNames {
  let users = new Map<number, string>();
  let passwdMtime = -1;
  return {
    refresh() {
      try {
        const path = hostPath(root, '/etc/passwd');
        const mtime = statSync(path).mtimeMs;
        if (mtime === passwdMtime) return;
        users = parsePasswd(readFileSync(path, 'utf8'));
        passwdMtime = mtime;
      } catch {
        users = new Map(); // no passwd (a minimal container): uids as numbers
      }
    },
    name: (uid) => users.get(uid) ?? String(uid),
  };
}

interface Known {
  startTicks: number;
  /** The name when the command line was read: exec(2) changes it but not the start time. */
  comm: string;
  cmdline: string;
  uid: number;
  owner: Owner;
}

export interface ProcessReaderOptions {
  /** Filesystem root the host files are read under; default '/'. */
  root?: string;
  /** The scan of /proc/PID/stat to use, shared with the process groups; default one of its own over root. */
  scan?: ProcScan;
}

/** Reads every process; see the module comment for what it costs. */
export interface ProcessReader {
  read(): Promise<ProcessInfo[]>;
}

/** Creates a reader with an empty cache. */
export function createProcessReader(opts: ProcessReaderOptions): ProcessReader {
  const root = opts.root ?? '/';
  const known = new Map<number, Known>();
  const scan = opts.scan ?? createProcScan({ root });
  const pageSize = readPageSize(root);
  let bootTime: number | undefined;
  const users = createUserNames(root);

  return {
    async read() {
      const btime = (bootTime ??= readBootTime(root));
      users.refresh();
      const seen = new Set<number>();
      const out: ProcessInfo[] = [];
      const procs = scan.read(true).procs;
      for (let ix = 0; ix < procs.length; ix++) {
        const stat = procs[ix]!;
        // A scan that keeps kernel threads (for a process groups configuration that takes them) has them here;
        // kthreadd and its children are left out too, flag or not, as they always were.
        if (isKernelThread(stat) || stat.pid === 2 || stat.ppid === 2) continue;
        const pid = stat.pid;
        const dir = hostPath(root, `/proc/${pid}`);
        seen.add(pid);
        let k = known.get(pid);
        if (!k || k.startTicks !== stat.startTicks || k.comm !== stat.comm) {
          try {
            const cmdline = parseCmdline(readFileSync(`${dir}/cmdline`, 'utf8'));
            const uid = statSync(dir).uid;
            let owner: Owner = {};
            try { owner = parseCgroupOwner(readFileSync(`${dir}/cgroup`, 'utf8')); } catch { /* no cgroup file: no owner */ }
            k = { startTicks: stat.startTicks, comm: stat.comm, cmdline, uid, owner };
            // An empty command line is a process caught mid-exec (or a zombie): look again next time.
            if (cmdline) known.set(pid, k);
            else known.delete(pid);
          } catch {
            continue; // exited mid-read
          }
        }
        out.push({
          pid,
          ppid: stat.ppid,
          name: stat.comm.slice(0, 64),
          cmdline: k.cmdline,
          uid: k.uid,
          user: users.name(k.uid).slice(0, 64),
          startTime: btime + stat.startTicks / USER_HZ,
          cpuSeconds: stat.cpuTicks / USER_HZ,
          rssBytes: stat.rssPages * pageSize,
          owner: k.owner,
        });
      }
      for (const pid of known.keys()) if (!seen.has(pid)) known.delete(pid);
      return out;
    },
  };
}
