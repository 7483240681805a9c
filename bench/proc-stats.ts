/**
 * What the kernel says about a process, read straight from /proc: CPU time
 * (stat), resident memory and threads (status), and its live children.
 * The benches measure other processes with these, never themselves.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** CPU counters of one process, in clock ticks (see {@link clockTicksPerSecond}). */
export interface ProcCpu {
  pid: number;
  /** Command name (at most 15 characters, as the kernel keeps it). */
  comm: string;
  ppid: number;
  /** Ticks since boot at which the process started; with the pid it names a process uniquely. */
  startTime: number;
  utime: number;
  stime: number;
  /** CPU of children the process has waited for: a child spawned and reaped between two readings shows up here. */
  cutime: number;
  cstime: number;
}

/**
 * Parses the text of /proc/PID/stat. The command name (field 2) may hold
 * spaces and parentheses, so fields are counted from the last ')'.
 */
export function parseProcStat(text: string): ProcCpu {
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  if (close < 0 || !Number.isInteger(pid)) throw new Error(`not a /proc/PID/stat line: ${text.slice(0, 80)}`);
  // After ')' come field 3 (state) onwards; index 0 here is field 3.
  const f = text.slice(close + 2).trim().split(' ');
  const at = (field: number): number => {
    const v = Number(f[field - 3]);
    if (!Number.isFinite(v)) throw new Error(`/proc/${pid}/stat has no numeric field ${field}`);
    return v;
  };
  const comm = text.slice(text.indexOf('(') + 1, close);
  return { pid, comm, ppid: at(4), utime: at(14), stime: at(15), cutime: at(16), cstime: at(17), startTime: at(22) };
}

/** Reads /proc/PID/stat; throws when the process is gone. */
export function readProcCpu(pid: number): ProcCpu {
  return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** Memory and thread figures of one process from /proc/PID/status. */
export interface ProcMemory {
  /** VmRSS in bytes: resident set, what `ps` shows as RSS. */
  rssBytes: number;
  /** RssAnon: the private part of the resident set (heaps, stacks). */
  rssAnonBytes: number;
  /** RssFile: resident pages of mapped files, mostly the program binary; shared with other processes running it. */
  rssFileBytes: number;
  /** VmHWM in bytes: the peak resident set since the process started. */
  peakRssBytes: number;
  threads: number;
}

/** Parses the text of /proc/PID/status (sizes there are in kB). */
export function parseProcStatus(text: string): ProcMemory {
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : 0;
  };
  const threads = /^Threads:\s+(\d+)/m.exec(text);
  return { rssBytes: kb('VmRSS'), rssAnonBytes: kb('RssAnon'), rssFileBytes: kb('RssFile'), peakRssBytes: kb('VmHWM'), threads: threads ? Number(threads[1]) : 0 };
}

/** Reads /proc/PID/status; throws when the process is gone. */
export function readProcMemory(pid: number): ProcMemory {
  return parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** Seconds of CPU (own + reaped children) in a reading, given the tick rate. */
export function cpuSeconds(c: ProcCpu, ticksPerSecond: number, withChildren = true): number {
  const ticks = c.utime + c.stime + (withChildren ? c.cutime + c.cstime : 0);
  return ticks / ticksPerSecond;
}

/** The kernel's USER_HZ (`getconf CLK_TCK`), the unit of the CPU fields in /proc/PID/stat. Call once per run. */
export function clockTicksPerSecond(): number {
  const out = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
  const v = Number(out);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`getconf CLK_TCK printed ${JSON.stringify(out)}`);
  return v;
}

/**
 * Live children of the given processes, found by scanning /proc for a
 * matching ppid (/proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN,
 * which not every kernel has). A child that starts and ends between two
 * scans is not seen; its CPU still lands in the parent's cutime/cstime once reaped.
 */
export function childrenOf(parents: ReadonlySet<number>): ProcCpu[] {
  const out: ProcCpu[] = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat: ProcCpu;
    try {
      stat = readProcCpu(Number(name));
    } catch {
      continue; // gone between readdir and read
    }
    if (parents.has(stat.ppid)) out.push(stat);
  }
  return out;
}

/** I/O counters of one process from /proc/PID/io (all threads, since it started). */
export interface ProcIo {
  /** Bytes passed to write()-like calls, files and sockets alike. */
  wchar: number;
  /** Bytes the process caused to be written to storage (page cache write-back counted to it). */
  writeBytes: number;
  /** write()-like system calls. */
  syscw: number;
}

/** Parses the text of /proc/PID/io. */
export function parseProcIo(text: string): ProcIo {
  const get = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { wchar: get('wchar'), writeBytes: get('write_bytes'), syscw: get('syscw') };
}

/** Reads /proc/PID/io; throws when the process is gone or not ours. */
export function readProcIo(pid: number): ProcIo {
  return parseProcIo(readFileSync(`/proc/${pid}/io`, 'utf8'));
}

/** Scheduler figures of a process's main thread from /proc/PID/schedstat, in nanoseconds since it started. */
export interface ProcSched {
  /** Time on a CPU. */
  runNs: number;
  /** Time runnable but waiting for a CPU: high when other work shares the core. */
  waitNs: number;
}

/** Parses the text of /proc/PID/schedstat (`run_ns wait_ns timeslices`). */
export function parseProcSchedstat(text: string): ProcSched {
  const [run, wait] = text.trim().split(/\s+/).map(Number);
  if (!Number.isFinite(run) || !Number.isFinite(wait)) throw new Error(`not a /proc/PID/schedstat line: ${text.slice(0, 80)}`);
  return { runNs: run!, waitNs: wait! };
}

/** Reads /proc/PID/schedstat; throws when the process is gone. */
export function readProcSchedstat(pid: number): ProcSched {
  return parseProcSchedstat(readFileSync(`/proc/${pid}/schedstat`, 'utf8'));
}
