/**
 * process-exporter's group families (`namedprocess_namegroup_*`), from
 * /proc, with its groups: a process is put in a group the first time it is
 * seen, by the configuration's matchers (agent/collectors/process-groups-config.ts),
 * or else with the nearest ancestor that is in one (process-exporter's
 * `-children`); it stays there until it exits.
 *
 * Counters stay counters as process-exporter keeps them: a group's CPU, I/O,
 * page faults and context switches add up what its processes used since the
 * collector started (a process there at the first run counts from then, a
 * later one from its start), and what an exited process used stays in. A
 * group with no process left is dropped (process-exporter's
 * `-remove-empty-groups`), so short-lived commands do not pile up.
 *
 * What a run reads: /proc/PID/stat of every process (its cmdline and, once,
 * status, when it is new) through a scan it shares with the process list
 * (proc-scan.ts: read once per sample, kernel threads skipped when the
 * configuration cannot take them, as the default cannot), and of the processes in a group, status, io, the
 * fd directory, wchan and (every ten runs) limits. Per-thread files
 * (process-exporter's `-threads`, the namedprocess_namegroup_thread_*
 * families) and smaps_rollup (`-gather-smaps`, the proportional memory
 * types) cost a read per thread and a page-table walk per process: they are
 * options, off by default. Without threads, a process's context switches,
 * state and wchan are its main thread's.
 */
import { readdirSync, statfsSync, statSync } from 'node:fs';
import { cgroupLines } from './cgroup-owner.ts';
import { createProcScan, type ProcScan, type ProcScanResult } from './proc-scan.ts';
import { createUserNames, parseProcStat, readBootTime, readPageSize, USER_HZ, type ProcStat } from './processes.ts';
import { defaultProcessGroups, type ProcessGroupsConfig } from './process-groups-config.ts';
import { createSmallFileReader, hostPath } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** Options for {@link createProcessGroupsCollector} (process-exporter's flags of the same idea). */
export interface ProcessGroupsOptions {
  /** The groups (`--process-groups FILE`); default: every process with a command line, by its name. */
  config?: ProcessGroupsConfig;
  /** Per-thread-name families, and thread-exact context switches, states and wchans (process-exporter's -threads). */
  threads?: boolean;
  /** memtype proportionalResident and proportionalSwapped from smaps_rollup (process-exporter's -gather-smaps). */
  smaps?: boolean;
  /**
   * The scan of /proc/PID/stat shared with the process list, over the same
   * root as the collector's context; used when it skips kernel threads and
   * the configuration cannot take them. Default: a scan of its own.
   */
  scan?: ProcScan;
}

/** Cumulative counters of a process or thread. */
interface Counts {
  utime: number;
  stime: number;
  readBytes: number;
  writeBytes: number;
  majflt: number;
  minflt: number;
  vcsw: number;
  nvcsw: number;
}

const COUNT_KEYS = ['utime', 'stime', 'readBytes', 'writeBytes', 'majflt', 'minflt', 'vcsw', 'nvcsw'] as const;
const zero = (): Counts => ({ utime: 0, stime: 0, readBytes: 0, writeBytes: 0, majflt: 0, minflt: 0, vcsw: 0, nvcsw: 0 });

/** Adds `now - before` (never negative: a counter that went back counts nothing) to `into`. */
function addDelta(into: Counts, now: Counts, before: Counts): void {
  for (const k of COUNT_KEYS) into[k] += Math.max(0, now[k] - before[k]);
}

/** Adds `d` to `into`. */
function addCounts(into: Counts, d: Counts): void {
  for (const k of COUNT_KEYS) into[k] += d[k];
}

/** The fields of /proc/PID/status this collector uses. */
export interface StatusFields {
  euid: number;
  vcsw: number;
  nvcsw: number;
  swapBytes: number;
}

/** Parses /proc/PID/status. */
export function parseStatus(text: string): StatusFields {
  const uid = /^Uid:\s+\d+\s+(\d+)/m.exec(text);
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    euid: uid ? Number(uid[1]) : -1,
    vcsw: num(/^voluntary_ctxt_switches:\s+(\d+)/m),
    nvcsw: num(/^nonvoluntary_ctxt_switches:\s+(\d+)/m),
    swapBytes: num(/^VmSwap:\s+(\d+) kB/m) * 1024,
  };
}

/** Parses /proc/PID/io's storage counters (read_bytes, write_bytes; not rchar/wchar). */
export function parseIo(text: string): { readBytes: number; writeBytes: number } {
  return { readBytes: Number(/^read_bytes:\s+(\d+)/m.exec(text)?.[1] ?? 0), writeBytes: Number(/^write_bytes:\s+(\d+)/m.exec(text)?.[1] ?? 0) };
}

/** The soft limit on open files from /proc/PID/limits (Infinity for unlimited). */
export function parseMaxOpenFiles(text: string): number {
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (!m) return Infinity;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** process-exporter's state names of /proc's one-letter states. */
const STATES = ['Running', 'Sleeping', 'Waiting', 'Zombie', 'Other'] as const;
type State = (typeof STATES)[number];
const stateOf = (c: string): State => (c === 'R' ? 'Running' : c === 'S' ? 'Sleeping' : c === 'D' ? 'Waiting' : c === 'Z' ? 'Zombie' : 'Other');

interface Thread {
  start: number;
  name: string;
  counts: Counts;
}

interface Tracked {
  start: number;
  /** The group, or null: the process is in none, and never will be (process-exporter does not look again). */
  group: string | null;
  ppid: number;
  counts: Counts | undefined;
  maxFiles: number;
  limitsRead: number;
  threads: Map<number, Thread> | undefined;
  /** What the last run read of its io, fd and wchan, when it read all three, and its context switches then. */
  quiet: Quiet | undefined;
}

/** A process's io, open files and wchan, kept while it does not run. */
interface Quiet {
  /** The scan of that run: the stat that says "asleep" must have been read after that run's status. */
  scan: ProcScanResult;
  vcsw: number;
  nvcsw: number;
  io: { readBytes: number; writeBytes: number };
  fds: number;
  wchan: string;
}

/** PROC_SUPER_MAGIC: the filesystem type of procfs. */
const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * How a process's open files are counted. Since Linux 6.2 the size of
 * /proc/PID/fd is the count (one stat, where a listing is an open, reads and
 * a close, and a string per fd); it needs no permission a listing needs, so
 * it is used only as root, where the listing is always allowed and the two
 * agree. Anywhere else (an older kernel: size 0, a fixture tree), the listing.
 */
function createFdCounter(root: string): (pid: number) => number {
  const list = (pid: number) => readdirSync(hostPath(root, `/proc/${pid}/fd`)).length;
  let bySize = false;
  try {
    bySize = process.getuid?.() === 0 && statfsSync(hostPath(root, '/proc')).type === PROC_SUPER_MAGIC && statSync(hostPath(root, '/proc/1/fd')).size > 0;
  } catch {
    // no /proc/1 to look at: list
  }
  if (!bySize) return list;
  // A process with no open file (a zombie) has size 0, as on an old kernel: list it to be sure.
  return (pid) => statSync(hostPath(root, `/proc/${pid}/fd`)).size || list(pid);
}

/** One run's view of a group. */
interface GroupNow {
  procs: number;
  delta: Counts;
  resident: number;
  virtual: number;
  swapped: number;
  pss: number;
  swapPss: number;
  oldest: number;
  fds: number;
  worstFdRatio: number;
  threads: number;
  states: Record<State, number>;
  wchans: Map<string, number>;
  /** Thread name -> how many, and what they used this run. */
  threadNames: Map<string, { count: number; delta: Counts }>;
}

/** How many runs a process's soft limit on open files is kept before it is read again. */
const LIMITS_EVERY = 10;

/** The `process_groups` collector: process-exporter's group families. */
export function createProcessGroupsCollector(opts: ProcessGroupsOptions = {}): CollectorSpec {
  return {
    name: 'process_groups',
    reads: '/proc/*/{stat,cmdline,status,io,fd,limits,wchan} (process-exporter\'s families)',
    enabled: true,
    every: 1,
    maxSeries: 20_000,
    whenAbsent: 'nodata',
    create(ctx) {
      const config = opts.config ?? defaultProcessGroups();
      const root = ctx.root;
      const read = createSmallFileReader(root);
      const pageSize = readPageSize(root);
      const countFds = createFdCounter(root);
      // Kernel threads have no command line: skipped unless a group could take a process without one.
      const scan = opts.scan && !config.matchesWithoutCmdline
        ? opts.scan
        : createProcScan({ root, skipKernelThreads: !config.matchesWithoutCmdline });
      const tracked = new Map<number, Tracked>();
      /** What each group used, summed over runs (process-exporter's groupAccum), and by thread name. */
      const accum = new Map<string, { counts: Counts; threads: Map<string, Counts> }>();
      let bootTime: number | undefined;
      const users = createUserNames(root);
      let runs = 0;
      let scrapeErrors = 0;
      let procReadErrors = 0;
      let partialErrors = 0;

      /** Reads a file that may be refused (another user's io or fd as non-root) or gone; undefined then. */
      const tryRead = (p: string): string | undefined => {
        try { return read(p); } catch { return undefined; }
      };

      /** The group of a process seen for the first time by the matchers, undefined when they take none. */
      const matchNew = (pid: number, stat: ProcStat): string | undefined => {
        const raw = tryRead(`/proc/${pid}/cmdline`) ?? '';
        const trimmed = raw.replace(/\0+$/, '');
        const cmdline = trimmed === '' ? [] : Buffer.from(trimmed, 'latin1').toString('utf8').split('\0');
        const euid = parseStatus(tryRead(`/proc/${pid}/status`) ?? '').euid;
        const cgroups = config.usesCgroups ? cgroupLines(tryRead(`/proc/${pid}/cgroup`) ?? '').map((l) => l.path) : [];
        return config.match({ comm: Buffer.from(stat.comm, 'latin1').toString('utf8'), cmdline, username: users.name(euid), cgroups });
      };

      return (out) => {
        bootTime ??= readBootTime(root);
        users.refresh();
        const first = runs++ === 0;
        let scanned: ProcScanResult;
        try {
          scanned = scan.read();
        } catch (err) {
          scrapeErrors++;
          writeErrors();
          throw err;
        }
        procReadErrors += scanned.errors;
        const seen = new Map<number, ProcStat>();
        const fresh: number[] = [];
        for (let ix = 0; ix < scanned.procs.length; ix++) {
          const stat = scanned.procs[ix]!;
          const pid = stat.pid;
          seen.set(pid, stat);
          const t = tracked.get(pid);
          if (t && t.start === stat.startTicks) continue;
          const group = matchNew(pid, stat);
          tracked.set(pid, { start: stat.startTicks, group: group ?? null, ppid: stat.ppid, counts: undefined, maxFiles: Infinity, limitsRead: -1, threads: undefined, quiet: undefined });
          if (group === undefined) fresh.push(pid);
        }
        for (const pid of tracked.keys()) if (!seen.has(pid)) tracked.delete(pid);

        // process-exporter's -children: a new process no group took joins its nearest ancestor's group.
        const pending = new Set(fresh);
        const ancestry = (pid: number, depth: number): string | null => {
          const t = tracked.get(pid)!;
          if (!pending.has(pid)) return t.group;
          pending.delete(pid);
          const parent = tracked.get(t.ppid);
          t.group = parent && depth < 256 ? ancestry(t.ppid, depth + 1) : null;
          return t.group;
        };
        for (const pid of fresh) ancestry(pid, 0);

        const groups = new Map<string, GroupNow>();
        for (const [pid, t] of tracked) {
          if (t.group === null) continue;
          const stat = seen.get(pid)!;
          const status = tryRead(`/proc/${pid}/status`);
          if (status === undefined) continue; // exited since its stat was read
          const st = parseStatus(status);
          // A single-threaded process asleep now that has not been switched out since the
          // last run has not run since (to run and sleep again is a voluntary switch, to be
          // preempted an involuntary one; its stat, from a newer scan, was read after the last run's status):
          // its io, open files and wchan are what they were then, and need no reading.
          const q = t.quiet;
          const still = q !== undefined && q.scan !== scanned && stat.state === 'S' && stat.numThreads === 1 && q.vcsw === st.vcsw && q.nvcsw === st.nvcsw;
          let partial = false;
          let io: { readBytes: number; writeBytes: number } | undefined;
          let fds = -1;
          let wchan = '';
          if (still) {
            ({ io, fds, wchan } = q);
          } else {
            const ioText = tryRead(`/proc/${pid}/io`);
            partial = ioText === undefined;
            io = ioText === undefined ? undefined : parseIo(ioText);
            try { fds = countFds(pid); } catch { partial = true; }
            const wchanText = tryRead(`/proc/${pid}/wchan`);
            if (wchanText === undefined) partial = true;
            // A running process's wchan reads 0.
            wchan = wchanText === undefined || wchanText.trim() === '0' ? '' : wchanText.trim();
            // Kept only for a single-threaded process read whole: another thread runs unseen in the main thread's switches.
            t.quiet = !partial && io && stat.numThreads === 1 ? { scan: scanned, vcsw: st.vcsw, nvcsw: st.nvcsw, io, fds, wchan } : undefined;
          }
          if (t.limitsRead < 0 || runs - t.limitsRead >= LIMITS_EVERY) {
            const limits = tryRead(`/proc/${pid}/limits`);
            if (limits !== undefined) { t.maxFiles = parseMaxOpenFiles(limits); t.limitsRead = runs; }
          }
          let pss = 0;
          let swapPss = 0;
          if (opts.smaps) {
            const smaps = tryRead(`/proc/${pid}/smaps_rollup`);
            if (smaps === undefined) partial = true;
            else {
              pss = Number(/^Pss:\s+(\d+) kB/m.exec(smaps)?.[1] ?? 0) * 1024;
              swapPss = Number(/^SwapPss:\s+(\d+) kB/m.exec(smaps)?.[1] ?? 0) * 1024;
            }
          }
          if (partial) partialErrors++;

          const counts: Counts = {
            utime: stat.utime, stime: stat.stime,
            // An unreadable io file (another user's process, as non-root) counts nothing new, never a drop.
            readBytes: io?.readBytes ?? t.counts?.readBytes ?? 0, writeBytes: io?.writeBytes ?? t.counts?.writeBytes ?? 0,
            majflt: stat.majflt, minflt: stat.minflt, vcsw: st.vcsw, nvcsw: st.nvcsw,
          };
          let g = groups.get(t.group);
          if (!g) {
            g = {
              procs: 0, delta: zero(), resident: 0, virtual: 0, swapped: 0, pss: 0, swapPss: 0, oldest: Infinity, fds: 0, worstFdRatio: 0, threads: 0,
              states: { Running: 0, Sleeping: 0, Waiting: 0, Zombie: 0, Other: 0 }, wchans: new Map(), threadNames: new Map(),
            };
            groups.set(t.group, g);
          }
          g.states[stateOf(stat.state)]++;
          if (wchan) g.wchans.set(wchan, (g.wchans.get(wchan) ?? 0) + 1);

          if (opts.threads && stat.numThreads > 1) {
            // process-exporter: a process's context switches are its threads' summed, its states and wchans include theirs.
            counts.vcsw = 0;
            counts.nvcsw = 0;
            const threads = new Map<number, Thread>();
            let tids: string[] = [];
            try { tids = readdirSync(hostPath(root, `/proc/${pid}/task`)); } catch { partialErrors++; }
            for (const tid of tids) {
              const ts = parseProcStat(tryRead(`/proc/${pid}/task/${tid}/stat`) ?? '');
              const tst = tryRead(`/proc/${pid}/task/${tid}/status`);
              if (!ts || tst === undefined) continue;
              const tstatus = parseStatus(tst);
              const tio = parseIo(tryRead(`/proc/${pid}/task/${tid}/io`) ?? '');
              const tw = (tryRead(`/proc/${pid}/task/${tid}/wchan`) ?? '0').trim();
              const tc: Counts = { utime: ts.utime, stime: ts.stime, readBytes: tio.readBytes, writeBytes: tio.writeBytes, majflt: ts.majflt, minflt: ts.minflt, vcsw: tstatus.vcsw, nvcsw: tstatus.nvcsw };
              counts.vcsw += tc.vcsw;
              counts.nvcsw += tc.nvcsw;
              g.states[stateOf(ts.state)]++;
              if (tw && tw !== '0') g.wchans.set(tw, (g.wchans.get(tw) ?? 0) + 1);
              const id = Number(tid);
              const before = t.threads?.get(id);
              const name = Buffer.from(ts.comm, 'latin1').toString('utf8');
              threads.set(id, { start: ts.startTicks, name, counts: tc });
              let byName = g.threadNames.get(name);
              if (!byName) g.threadNames.set(name, (byName = { count: 0, delta: zero() }));
              byName.count++;
              // A thread seen for the first time counts from now, as in process-exporter.
              if (before && before.start === ts.startTicks) addDelta(byName.delta, tc, before.counts);
            }
            t.threads = threads;
          } else {
            t.threads = undefined;
          }

          // A process there at the first run counts from then; one that started later, from its start.
          addDelta(g.delta, counts, t.counts ?? (first ? counts : zero()));
          t.counts = counts;
          g.procs++;
          g.resident += stat.rssPages * pageSize;
          g.virtual += stat.vsize;
          g.swapped += st.swapBytes;
          g.pss += pss;
          g.swapPss += swapPss;
          g.oldest = Math.min(g.oldest, Math.floor(bootTime + stat.startTicks / USER_HZ));
          if (fds >= 0) g.fds += fds;
          const ratio = fds / t.maxFiles;
          if (ratio > g.worstFdRatio) g.worstFdRatio = ratio;
          g.threads += stat.numThreads;
        }

        for (const name of accum.keys()) if (!groups.has(name)) accum.delete(name);
        const L = ['groupname'];
        const numProcs = out.gauge('namedprocess_namegroup_num_procs', 'number of processes in this group', L);
        const cpu = out.counter('namedprocess_namegroup_cpu_seconds_total', 'Cpu user usage in seconds', ['groupname', 'mode']);
        const readBytes = out.counter('namedprocess_namegroup_read_bytes_total', 'number of bytes read by this group', L);
        const writeBytes = out.counter('namedprocess_namegroup_write_bytes_total', 'number of bytes written by this group', L);
        const majflt = out.counter('namedprocess_namegroup_major_page_faults_total', 'Major page faults', L);
        const minflt = out.counter('namedprocess_namegroup_minor_page_faults_total', 'Minor page faults', L);
        const ctx = out.counter('namedprocess_namegroup_context_switches_total', 'Context switches', ['groupname', 'ctxswitchtype']);
        const memory = out.gauge('namedprocess_namegroup_memory_bytes', 'number of bytes of memory in use', ['groupname', 'memtype']);
        const openFds = out.gauge('namedprocess_namegroup_open_filedesc', 'number of open file descriptors for this group', L);
        const worst = out.gauge('namedprocess_namegroup_worst_fd_ratio', 'the worst (closest to 1) ratio between open fds and max fds among all procs in this group', L);
        const oldest = out.gauge('namedprocess_namegroup_oldest_start_time_seconds', 'start time in seconds since 1970/01/01 of oldest process in group', L);
        const numThreads = out.gauge('namedprocess_namegroup_num_threads', 'Number of threads', L);
        const states = out.gauge('namedprocess_namegroup_states', 'Number of processes in states Running, Sleeping, Waiting, Zombie, or Other', ['groupname', 'state']);
        const wchans = out.gauge('namedprocess_namegroup_threads_wchan', 'Number of threads in this group waiting on each wchan', ['groupname', 'wchan']);
        const thr = opts.threads ? {
          count: out.gauge('namedprocess_namegroup_thread_count', 'Number of threads in this group with same threadname', ['groupname', 'threadname']),
          cpu: out.counter('namedprocess_namegroup_thread_cpu_seconds_total', 'Cpu user/system usage in seconds', ['groupname', 'threadname', 'mode']),
          io: out.counter('namedprocess_namegroup_thread_io_bytes_total', 'number of bytes read/written by these threads', ['groupname', 'threadname', 'iomode']),
          majflt: out.counter('namedprocess_namegroup_thread_major_page_faults_total', 'Major page faults for these threads', ['groupname', 'threadname']),
          minflt: out.counter('namedprocess_namegroup_thread_minor_page_faults_total', 'Minor page faults for these threads', ['groupname', 'threadname']),
          ctx: out.counter('namedprocess_namegroup_thread_context_switches_total', 'Context switches for these threads', ['groupname', 'threadname', 'ctxswitchtype']),
        } : undefined;

        for (const [name, g] of [...groups].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
          let acc = accum.get(name);
          if (!acc) accum.set(name, (acc = { counts: zero(), threads: new Map() }));
          addCounts(acc.counts, g.delta);
          const c = acc.counts;
          numProcs(g.procs, name);
          cpu(c.utime / USER_HZ, name, 'user');
          cpu(c.stime / USER_HZ, name, 'system');
          readBytes(c.readBytes, name);
          writeBytes(c.writeBytes, name);
          majflt(c.majflt, name);
          minflt(c.minflt, name);
          ctx(c.vcsw, name, 'voluntary');
          ctx(c.nvcsw, name, 'nonvoluntary');
          memory(g.resident, name, 'resident');
          memory(g.virtual, name, 'virtual');
          memory(g.swapped, name, 'swapped');
          if (opts.smaps) {
            memory(g.pss, name, 'proportionalResident');
            memory(g.swapPss, name, 'proportionalSwapped');
          }
          openFds(g.fds, name);
          worst(g.worstFdRatio, name);
          oldest(g.oldest, name);
          numThreads(g.threads, name);
          for (const s of STATES) states(g.states[s], name, s);
          for (const [w, n] of g.wchans) wchans(n, name, w);
          if (thr) {
            // Thread names no longer in the group are forgotten, as process-exporter forgets them.
            const next = new Map<string, Counts>();
            for (const [tname, t] of g.threadNames) {
              const tc = acc.threads.get(tname) ?? zero();
              addCounts(tc, t.delta);
              next.set(tname, tc);
              thr.count(t.count, name, tname);
              thr.cpu(tc.utime / USER_HZ, name, tname, 'user');
              thr.cpu(tc.stime / USER_HZ, name, tname, 'system');
              thr.io(tc.readBytes, name, tname, 'read');
              thr.io(tc.writeBytes, name, tname, 'write');
              thr.majflt(tc.majflt, name, tname);
              thr.minflt(tc.minflt, name, tname);
              thr.ctx(tc.vcsw, name, tname, 'voluntary');
              thr.ctx(tc.nvcsw, name, tname, 'nonvoluntary');
            }
            acc.threads = next;
          }
        }
        writeErrors();

        function writeErrors() {
          out.counter('namedprocess_scrape_errors', 'general scrape errors: no proc metrics collected during a cycle')(scrapeErrors);
          out.counter('namedprocess_scrape_procread_errors', 'incremented each time a proc\'s metrics collection fails')(procReadErrors);
          out.counter('namedprocess_scrape_partial_errors', 'incremented each time a tracked proc\'s metrics collection fails partially, e.g. unreadable I/O stats')(partialErrors);
        }
      };
    },
  };
}
