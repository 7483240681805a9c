/**
 * One read of every /proc/PID/stat, shared by the readers that need it in
 * the same sample: the process list (processes.ts, for the workloads) and the
 * process groups (process-groups.ts, a metrics collector) both ran their own
 * pass over /proc a few milliseconds apart, and that pass is most of what
 * either costs. A result younger than `maxAgeMs` is handed out again.
 *
 * Kernel threads are most pids on a small host, never change and interest
 * neither reader (they have no command line, so no process group takes them
 * unless a configuration says so; see ProcessGroupsConfig.matchesWithoutCmdline):
 * once seen, a kernel thread's pid is skipped while it is listed, and looked
 * at again every KTHREAD_RECHECK scans in any case.
 */
import { readdirSync } from 'node:fs';
import { createSmallFileReader, hostPath, isAbsent } from './read.ts';

/** The fields of /proc/PID/stat (or /proc/PID/task/TID/stat) the agent uses. */
export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, Z, T, I... */
  state: string;
  ppid: number;
  flags: number;
  minflt: number;
  majflt: number;
  /** User and system time, in clock ticks. */
  utime: number;
  stime: number;
  /** utime + stime. */
  cpuTicks: number;
  numThreads: number;
  /** Start time after boot, in clock ticks. */
  startTicks: number;
  /** Virtual memory size in bytes. */
  vsize: number;
  rssPages: number;
}

/** Parses /proc/PID/stat; the name may hold spaces and parentheses, so fields are counted from the last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const field = (n: number) => Number(rest[n - 3]);
  const utime = field(14);
  const stime = field(15);
  const stat = {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '',
    ppid: field(4),
    flags: field(9),
    minflt: field(10),
    majflt: field(12),
    utime,
    stime,
    cpuTicks: utime + stime,
    numThreads: field(20),
    startTicks: field(22),
    vsize: field(23),
    rssPages: field(24),
  };
  return Number.isFinite(stat.pid) && Number.isFinite(stat.cpuTicks) && Number.isFinite(stat.rssPages) ? stat : undefined;
}

/** How many scans a kernel thread's pid is skipped before it is looked at again. */
export const KTHREAD_RECHECK = 30;

/** PF_KTHREAD in /proc/PID/stat's flags: the process is a kernel thread. */
const PF_KTHREAD = 0x00200000;

/**
 * True for a kernel thread, by its PF_KTHREAD flag: it has no memory of its
 * own, so no command line. (A user-mode helper the kernel starts, such as
 * modprobe, is kthreadd's child but not a kernel thread.)
 */
export function isKernelThread(stat: ProcStat): boolean {
  return (stat.flags & PF_KTHREAD) !== 0;
}

/** One scan of /proc. Shared between readers: read it, never change it. */
export interface ProcScanResult {
  /** Every process but the kernel threads skipped, in readdir order. */
  readonly procs: readonly ProcStat[];
  /** Stats that could not be read for another reason than the process being gone, or not parsed. */
  readonly errors: number;
}

/** Hands out a recent scan of /proc. */
export interface ProcScan {
  /**
   * A scan at most maxAgeMs old, or with `fresh` a new one; throws when /proc
   * cannot be listed. The process list asks for a fresh one: the listeners tie
   * sockets read right after it to its processes, and a socket of a process
   * that started after the scan would have no holder. The process groups,
   * which run after it in the same sample, take that scan again.
   */
  read(fresh?: boolean): ProcScanResult;
}

export interface ProcScanOptions {
  /** Filesystem root the host files are read under; default '/'. */
  root?: string;
  /** How long a scan is handed out again; 0 (the default) scans on every read. */
  maxAgeMs?: number;
  /** Skip kernel threads (default true); false reads and returns them as any process. */
  skipKernelThreads?: boolean;
  /** Clock in ms; default Date.now. */
  now?: () => number;
  /** Reads one small /proc file; default a createSmallFileReader under root. */
  readFile?: (path: string) => string;
}

/** Creates a scanner with no scan yet. */
export function createProcScan(opts: ProcScanOptions = {}): ProcScan {
  const root = opts.root ?? '/';
  const maxAgeMs = opts.maxAgeMs ?? 0;
  const skip = opts.skipKernelThreads ?? true;
  const now = opts.now ?? Date.now;
  const read = opts.readFile ?? createSmallFileReader(root);
  const kthreads = new Set<number>();
  let scans = 0;
  let last: ProcScanResult | undefined;
  let lastAt = 0;

  return {
    read(fresh = false) {
      const t = now();
      if (!fresh && last && maxAgeMs > 0 && t - lastAt < maxAgeMs && t >= lastAt) return last;
      const entries = readdirSync(hostPath(root, '/proc'));
      if (++scans % KTHREAD_RECHECK === 0) kthreads.clear();
      const procs: ProcStat[] = [];
      let errors = 0;
      // A kernel thread that is gone (a kworker ends) frees its pid: forgotten at once, so a process that reuses it is read.
      let skipped = 0;
      for (let ix = 0; ix < entries.length; ix++) {
        const entry = entries[ix]!;
        const pid = Number(entry);
        if (!Number.isInteger(pid) || pid <= 0) continue;
        if (kthreads.has(pid)) { skipped++; continue; }
        let stat: ProcStat | undefined;
        try {
          stat = parseProcStat(read(`/proc/${entry}/stat`));
        } catch (err) {
          if (!isAbsent(err)) errors++;
          continue; // gone since readdir, or refused
        }
        if (!stat) { errors++; continue; }
        if (skip && isKernelThread(stat)) { kthreads.add(pid); continue; }
        procs.push(stat);
      }
      if (skipped < kthreads.size) {
        const listed = new Set(entries);
        for (const pid of kthreads) if (!listed.has(String(pid))) kthreads.delete(pid);
      }
      last = { procs, errors };
      lastAt = t;
      return last;
    },
  };
}
