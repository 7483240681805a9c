/**
 * The process_groups collector over a /proc tree the test writes and changes
 * between runs: groups by the matchers and by ancestry, every family and its
 * value, counters that count from the first run and never go back when a
 * process exits, groups that go when their last process does, pid reuse,
 * threads and smaps.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMetricsCollector } from '../../../agent/collectors/registry.ts';
import { createProcessGroupsCollector, type ProcessGroupsOptions } from '../../../agent/collectors/process-groups.ts';
import { parseProcessGroups } from '../../../agent/collectors/process-groups-config.ts';
import { createProcScan } from '../../../agent/collectors/proc-scan.ts';
import { createSmallFileReader } from '../../../agent/collectors/read.ts';
import { tempDir, waitFor } from '../../helpers/processes.ts';

const BTIME = 1_795_000_000;

interface FakeProc {
  pid: number;
  comm: string;
  cmdline: string[];
  ppid?: number;
  state?: string;
  uid?: number;
  utime?: number;
  stime?: number;
  minflt?: number;
  majflt?: number;
  start?: number;
  vsize?: number;
  rss?: number;
  vcsw?: number;
  nvcsw?: number;
  swapKb?: number;
  readBytes?: number;
  writeBytes?: number;
  fds?: number;
  maxFiles?: number | 'unlimited';
  wchan?: string;
  pssKb?: number;
  /** /proc/PID/stat's flags; PF_KTHREAD (0x200000) for a kernel thread. */
  flags?: number;
  threads?: FakeProc[];
}

function statLine(p: FakeProc, threads: number): string {
  const f = [p.state ?? 'S', p.ppid ?? 1, p.pid, p.pid, 0, -1, p.flags ?? 4194560, p.minflt ?? 0, 0, p.majflt ?? 0, 0, p.utime ?? 0, p.stime ?? 0, 0, 0, 20, 0, threads, 0, p.start ?? 100, p.vsize ?? 0, p.rss ?? 0];
  return `${p.pid} (${p.comm}) ${f.join(' ')} 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`;
}

function statusText(p: FakeProc): string {
  const uid = p.uid ?? 0;
  return `Name:\t${p.comm}\nState:\t${p.state ?? 'S'} (sleeping)\nPid:\t${p.pid}\nPPid:\t${p.ppid ?? 1}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`
    + (p.swapKb !== undefined ? `VmSwap:\t${p.swapKb} kB\n` : '') + `voluntary_ctxt_switches:\t${p.vcsw ?? 0}\nnonvoluntary_ctxt_switches:\t${p.nvcsw ?? 0}\n`;
}

/** Writes (or rewrites) one process under root/proc. */
function writeProc(root: string, p: FakeProc): void {
  const dir = join(root, 'proc', String(p.pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'fd'), { recursive: true });
  const threads = p.threads?.length ?? 1;
  writeFileSync(join(dir, 'stat'), statLine(p, threads));
  writeFileSync(join(dir, 'status'), statusText(p));
  writeFileSync(join(dir, 'cmdline'), p.cmdline.length ? p.cmdline.join('\0') + '\0' : '');
  writeFileSync(join(dir, 'io'), `rchar: 1\nwchar: 1\nsyscr: 1\nsyscw: 1\nread_bytes: ${p.readBytes ?? 0}\nwrite_bytes: ${p.writeBytes ?? 0}\ncancelled_write_bytes: 0\n`);
  writeFileSync(join(dir, 'limits'), `Limit                     Soft Limit           Hard Limit           Units     \nMax open files            ${p.maxFiles ?? 1024}                 524288               files     \n`);
  writeFileSync(join(dir, 'wchan'), p.wchan ?? '0');
  writeFileSync(join(dir, 'smaps_rollup'), `00400000-7ffd0000 ---p 00000000 00:00 0 [rollup]\nRss: 100 kB\nPss: ${p.pssKb ?? 0} kB\nSwapPss: 0 kB\n`);
  for (let i = 0; i < (p.fds ?? 0); i++) symlinkSync('/dev/null', join(dir, 'fd', String(i)));
  if (p.threads) {
    for (const t of p.threads) {
      const td = join(dir, 'task', String(t.pid));
      mkdirSync(td, { recursive: true });
      writeFileSync(join(td, 'stat'), statLine({ ...t, ppid: p.ppid }, threads));
      writeFileSync(join(td, 'status'), statusText(t));
      writeFileSync(join(td, 'io'), `read_bytes: ${t.readBytes ?? 0}\nwrite_bytes: ${t.writeBytes ?? 0}\n`);
      writeFileSync(join(td, 'wchan'), t.wchan ?? '0');
    }
  }
}

function hostTree(): string {
  const root = tempDir('pgroups');
  mkdirSync(join(root, 'proc'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'proc/stat'), `cpu  1 2 3 4\nbtime ${BTIME}\n`);
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n');
  return root;
}

/** A collector over root; collect() returns its series keyed `name{labels}` in the family's label order. */
function collectorOver(root: string, opts: ProcessGroupsOptions) {
  const c = createMetricsCollector({ registry: [createProcessGroupsCollector(opts)], root });
  return async () => {
    const fams = await c.collect();
    const success = fams.find((f) => f.name === 'node_scrape_collector_success')!;
    assert.equal(success.values, [1], 'the collector succeeds');
    const out = new Map<string, number>();
    const types = new Map<string, string>();
    for (const f of fams) {
      if (f.name.startsWith('node_scrape_')) continue;
      types.set(f.name, f.type);
      const n = f.labels.length;
      f.values.forEach((v, i) => out.set(`${f.name}{${f.labels.map((l, j) => `${l}="${f.labelValues[i * n + j]}"`).join(',')}}`, v));
    }
    return { series: out, types };
  };
}

const NGINX = parseProcessGroups('process_names:\n  - name: "{{.Comm}}"\n    comm: [nginx]\n  - name: "{{.Username}}"\n    exe: [bash]\n');

test('groups by matcher and ancestry; every family; counters from the first run, kept when a process exits; empty groups go', async () => {
  const root = hostTree();
  try {
    const master: FakeProc = { pid: 10, comm: 'nginx', cmdline: ['nginx: master process /usr/sbin/nginx'], utime: 500, stime: 100, minflt: 1000, majflt: 5, start: 1000, vsize: 50_000_000, rss: 1000, vcsw: 40, nvcsw: 4, swapKb: 8, readBytes: 4096, writeBytes: 8192, fds: 6, maxFiles: 1024, wchan: 'do_epoll_wait' };
    const worker: FakeProc = { pid: 11, comm: 'nginx', cmdline: ['nginx: worker process'], ppid: 10, uid: 33, utime: 300, stime: 30, start: 1100, vsize: 60_000_000, rss: 2000, fds: 12, maxFiles: 16, wchan: 'do_epoll_wait' };
    const helper: FakeProc = { pid: 12, comm: 'logrotate', cmdline: ['logrotate', '/etc/logrotate.conf'], ppid: 10, state: 'R', start: 1200, rss: 10 };
    const shell: FakeProc = { pid: 20, comm: 'bash', cmdline: ['/bin/bash'], uid: 33, start: 900, rss: 100, fds: 3, maxFiles: 'unlimited' };
    const kthread: FakeProc = { pid: 2, comm: 'kthreadd', cmdline: [], ppid: 0, start: 0 };
    const stranger: FakeProc = { pid: 30, comm: 'cron', cmdline: ['/usr/sbin/cron', '-f'], start: 700 };
    for (const p of [master, worker, helper, shell, kthread, stranger]) writeProc(root, p);
    const collect = collectorOver(root, { config: NGINX });

    let { series, types } = await collect();
    const n = (labels: string) => `groupname="nginx"${labels}`;
    const want: Record<string, number> = {
      [`namedprocess_namegroup_num_procs{${n('')}}`]: 3,
      [`namedprocess_namegroup_cpu_seconds_total{${n(',mode="user"')}}`]: 0,
      [`namedprocess_namegroup_cpu_seconds_total{${n(',mode="system"')}}`]: 0,
      [`namedprocess_namegroup_read_bytes_total{${n('')}}`]: 0,
      [`namedprocess_namegroup_memory_bytes{${n(',memtype="resident"')}}`]: 3010 * 4096,
      [`namedprocess_namegroup_memory_bytes{${n(',memtype="virtual"')}}`]: 110_000_000,
      [`namedprocess_namegroup_memory_bytes{${n(',memtype="swapped"')}}`]: 8 * 1024,
      [`namedprocess_namegroup_open_filedesc{${n('')}}`]: 18,
      [`namedprocess_namegroup_worst_fd_ratio{${n('')}}`]: 0.75,
      [`namedprocess_namegroup_oldest_start_time_seconds{${n('')}}`]: BTIME + 10,
      [`namedprocess_namegroup_num_threads{${n('')}}`]: 3,
      [`namedprocess_namegroup_states{${n(',state="Sleeping"')}}`]: 2,
      [`namedprocess_namegroup_states{${n(',state="Running"')}}`]: 1,
      [`namedprocess_namegroup_threads_wchan{${n(',wchan="do_epoll_wait"')}}`]: 2,
      [`namedprocess_namegroup_num_procs{groupname="www-data"}`]: 1,
      [`namedprocess_namegroup_worst_fd_ratio{groupname="www-data"}`]: 0,
      'namedprocess_scrape_errors{}': 0,
    };
    for (const [k, v] of Object.entries(want)) assert.is(series.get(k), v, k);
    assert.not.ok([...series.keys()].some((k) => /groupname="(cron|kthreadd|logrotate)"/.test(k)), 'a process no matcher takes and no group is an ancestor of is left out');
    assert.equal([...series.keys()].filter((k) => k.includes('groupname="nginx"')).length, 22, '21 series a group without threads and smaps, and its one wchan');
    assert.is(types.get('namedprocess_namegroup_cpu_seconds_total'), 'counter');
    assert.is(types.get('namedprocess_namegroup_states'), 'gauge');

    // The master works, the worker exits, a new worker starts with what it used since its start.
    writeProc(root, { ...master, utime: 550, readBytes: 4096 + 1000, vcsw: 50 });
    rmSync(join(root, 'proc/11'), { recursive: true });
    writeProc(root, { ...worker, pid: 13, utime: 30, start: 5000 });
    ({ series } = await collect());
    assert.is(series.get(`namedprocess_namegroup_cpu_seconds_total{${n(',mode="user"')}}`), 0.8);
    assert.is(series.get(`namedprocess_namegroup_read_bytes_total{${n('')}}`), 1000);
    assert.is(series.get(`namedprocess_namegroup_context_switches_total{${n(',ctxswitchtype="voluntary"')}}`), 10);
    assert.is(series.get(`namedprocess_namegroup_num_procs{${n('')}}`), 3);

    // Everything exits but the helper (in the group by ancestry, its parent gone): the counters stay.
    rmSync(join(root, 'proc/10'), { recursive: true });
    rmSync(join(root, 'proc/13'), { recursive: true });
    ({ series } = await collect());
    assert.is(series.get(`namedprocess_namegroup_num_procs{${n('')}}`), 1);
    assert.is(series.get(`namedprocess_namegroup_cpu_seconds_total{${n(',mode="user"')}}`), 0.8);

    // The last one goes: so does the group. The bash's pid is reused by an nginx: a new process, in nginx.
    rmSync(join(root, 'proc/12'), { recursive: true });
    ({ series } = await collect());
    assert.not.ok([...series.keys()].some((k) => k.includes('groupname="nginx"')), 'an empty group is dropped');
    writeProc(root, { pid: 20, comm: 'nginx', cmdline: ['nginx'], utime: 7, start: 9000 });
    ({ series } = await collect());
    assert.is(series.get(`namedprocess_namegroup_num_procs{${n('')}}`), 1);
    assert.is(series.get(`namedprocess_namegroup_cpu_seconds_total{${n(',mode="user"')}}`), 0.07, 'a group that comes back counts from its new processes');
    assert.not.ok([...series.keys()].some((k) => k.includes('groupname="www-data"')), 'the bash is gone');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the default configuration reads no kernel thread through the shared scan and gives what reading them gives; one that can take them still does', async () => {
  const root = hostTree();
  try {
    const PF_KTHREAD = 0x200000;
    const procs: FakeProc[] = [
      { pid: 2, comm: 'kthreadd', cmdline: [], ppid: 0, start: 0, flags: PF_KTHREAD },
      { pid: 7, comm: 'kworker/0:1', cmdline: [], ppid: 2, start: 5, flags: PF_KTHREAD, utime: 40 },
      { pid: 40, comm: 'modprobe', cmdline: ['/sbin/modprobe', '-q', 'x'], ppid: 2, start: 600, utime: 1 },
      { pid: 50, comm: 'cron', cmdline: ['/usr/sbin/cron', '-f'], start: 700, utime: 3, fds: 2 },
      { pid: 51, comm: 'sh', cmdline: ['/bin/sh', '-c', 'x'], ppid: 50, start: 800 },
    ];
    for (const p of procs) writeProc(root, p);
    const small = createSmallFileReader(root);
    const statReads: string[] = [];
    let now = 0;
    const scan = createProcScan({ root, maxAgeMs: 1_000, now: () => now, readFile: (p) => { statReads.push(p); return small(p); } });
    const shared = collectorOver(root, { scan });
    const everything = collectorOver(root, { scan: createProcScan({ root, skipKernelThreads: false }) });
    for (let run = 0; run < 3; run++) {
      writeProc(root, { ...procs[3]!, utime: 3 + run * 10 });
      writeProc(root, { ...procs[1]!, utime: 40 + run * 10 });
      statReads.length = 0;
      now += 1_000;
      const a = await shared();
      assert.equal(a.series, (await everything()).series, `run ${run}: the same series as when kernel threads are read`);
      if (run > 0) assert.not.ok(statReads.includes('/proc/2/stat') || statReads.includes('/proc/7/stat'), `run ${run}: kernel threads are not read again`);
      assert.is(a.series.get('namedprocess_namegroup_num_procs{groupname="modprobe"}'), 1, 'a user-mode helper is a process like any other');
      assert.is(a.series.get('namedprocess_namegroup_num_procs{groupname="cron"}'), 1);
      assert.not.ok([...a.series.keys()].some((k) => /kthreadd|kworker/.test(k)));
    }

    // A comm-only group can take a kernel thread: the collector reads them, shared scan or not.
    const byComm = collectorOver(root, { scan, config: parseProcessGroups('process_names:\n  - comm: [kworker/0:1]\n') });
    const { series } = await byComm();
    assert.is(series.get('namedprocess_namegroup_num_procs{groupname="kworker/0:1"}'), 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a single-threaded process asleep and not switched out since the last run has not run: its io, fds and wchan are not read again', async () => {
  const root = hostTree();
  try {
    const idle: FakeProc = { pid: 60, comm: 'idle', cmdline: ['idle'], start: 100, vcsw: 10, nvcsw: 2, readBytes: 100, fds: 2, wchan: 'do_select' };
    const pool: FakeProc = { pid: 70, comm: 'pool', cmdline: ['pool'], start: 100, vcsw: 10, readBytes: 100, wchan: 'futex_wait', threads: [{ pid: 70, comm: 'pool', cmdline: [] }, { pid: 71, comm: 'pool', cmdline: [] }] };
    writeProc(root, idle);
    writeProc(root, pool);
    const collect = collectorOver(root, {});
    const at = async (group: string) => {
      const { series } = await collect();
      return { read: series.get(`namedprocess_namegroup_read_bytes_total{groupname="${group}"}`), fds: series.get(`namedprocess_namegroup_open_filedesc{groupname="${group}"}`), wchan: [...series.keys()].find((k) => k.startsWith(`namedprocess_namegroup_threads_wchan{groupname="${group}"`)) };
    };
    assert.equal(await at('idle'), { read: 0, fds: 2, wchan: 'namedprocess_namegroup_threads_wchan{groupname="idle",wchan="do_select"}' });
    // Files no real process could change without running: while its switches stand still, they are not looked at.
    writeProc(root, { ...idle, readBytes: 900, fds: 5, wchan: 'ep_poll' });
    writeProc(root, { ...pool, readBytes: 900 });
    assert.equal(await at('idle'), { read: 0, fds: 2, wchan: 'namedprocess_namegroup_threads_wchan{groupname="idle",wchan="do_select"}' });
    assert.is((await at('pool')).read, 800, 'a process with another thread is read every run: its main thread\'s switches do not tell');
    writeProc(root, { ...idle, readBytes: 900, fds: 5, wchan: 'ep_poll', vcsw: 11 });
    assert.equal(await at('idle'), { read: 800, fds: 5, wchan: 'namedprocess_namegroup_threads_wchan{groupname="idle",wchan="ep_poll"}' }, 'it ran: read again');
    writeProc(root, { ...idle, readBytes: 1000, fds: 6, vcsw: 11, state: 'R', wchan: '0' });
    assert.equal(await at('idle'), { read: 900, fds: 6, wchan: undefined }, 'running now: read again');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('two runs on one shared scan read the files again: its "asleep" was seen before the first run\'s status', async () => {
  const root = hostTree();
  try {
    const idle: FakeProc = { pid: 60, comm: 'idle', cmdline: ['idle'], start: 100, vcsw: 10, readBytes: 100 };
    writeProc(root, idle);
    let now = 0;
    const scan = createProcScan({ root, maxAgeMs: 1_000, now: () => now });
    const collect = collectorOver(root, { scan });
    const read = async () => (await collect()).series.get('namedprocess_namegroup_read_bytes_total{groupname="idle"}');
    assert.is(await read(), 0);
    writeProc(root, { ...idle, readBytes: 700 });
    assert.is(await read(), 600, 'the same scan: read again');
    writeProc(root, { ...idle, readBytes: 900 });
    now += 1_000;
    assert.is(await read(), 600, 'a newer scan that says asleep, the same switches: not read');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('real /proc: a sleeping process that wakes, opens files and sleeps again is counted with them', async () => {
  const dir = tempDir('pgroups-real');
  const comm = `mstfd${process.pid % 1_000_000}`;
  const sh = join(dir, comm);
  copyFileSync('/bin/dash', sh);
  chmodSync(sh, 0o755);
  const child = spawn(sh, ['-c', 'read a; exec 7</dev/null 8</dev/null 9</dev/null; read b'], { stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    const c = createMetricsCollector({ registry: [createProcessGroupsCollector({ config: parseProcessGroups(`process_names:\n  - name: "{{.Comm}}"\n    comm: [${comm}]\n`) })] });
    const fds = async () => {
      const f = (await c.collect()).find((x) => x.name === 'namedprocess_namegroup_open_filedesc');
      const i = f?.labelValues.indexOf(comm) ?? -1;
      return i < 0 ? undefined : f!.values[i];
    };
    const before = await waitFor('the child in its group', fds);
    const fdDir = `/proc/${child.pid}/fd`;
    assert.is(before, readdirSync(fdDir).length);
    assert.is(await fds(), before, 'asleep: the same');
    child.stdin!.write('go\n');
    await waitFor('the child to open three files', () => readdirSync(fdDir).length === before + 3 || undefined);
    await waitFor('the child to sleep again', async () => readFileSync(`/proc/${child.pid}/stat`, 'latin1').split(') ')[1]!.startsWith('S') || undefined);
    assert.is(await fds(), before + 3);
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('threads: per thread name families, context switches summed, states and wchans of every thread; smaps', async () => {
  const root = hostTree();
  try {
    const threads: FakeProc[] = [
      { pid: 40, comm: 'java', cmdline: [], utime: 10, vcsw: 5, nvcsw: 1, start: 300, wchan: 'futex_wait_queue' },
      { pid: 41, comm: 'GC Thread#0', cmdline: [], utime: 20, vcsw: 7, start: 310, state: 'R' },
      { pid: 42, comm: 'GC Thread#0', cmdline: [], utime: 30, vcsw: 9, start: 320, wchan: 'futex_wait_queue' },
    ];
    const java: FakeProc = { pid: 40, comm: 'java', cmdline: ['/usr/bin/java', '-jar', 'app.jar'], utime: 60, start: 300, vcsw: 5, nvcsw: 1, pssKb: 2048, wchan: 'futex_wait_queue', threads };
    writeProc(root, java);
    const collect = collectorOver(root, { threads: true, smaps: true });
    let { series } = await collect();
    const g = 'groupname="java"';
    assert.is(series.get(`namedprocess_namegroup_context_switches_total{${g},ctxswitchtype="voluntary"}`), 0, 'counted from the first run');
    assert.is(series.get(`namedprocess_namegroup_states{${g},state="Sleeping"}`), 3, 'the process and its sleeping threads, as process-exporter counts');
    assert.is(series.get(`namedprocess_namegroup_states{${g},state="Running"}`), 1);
    assert.is(series.get(`namedprocess_namegroup_threads_wchan{${g},wchan="futex_wait_queue"}`), 3);
    assert.is(series.get(`namedprocess_namegroup_thread_count{${g},threadname="GC Thread#0"}`), 2);
    assert.is(series.get(`namedprocess_namegroup_thread_count{${g},threadname="java"}`), 1);
    assert.is(series.get(`namedprocess_namegroup_memory_bytes{${g},memtype="proportionalResident"}`), 2048 * 1024);
    assert.is(series.get(`namedprocess_namegroup_memory_bytes{${g},memtype="proportionalSwapped"}`), 0);

    threads[1] = { ...threads[1]!, utime: 120, vcsw: 17, readBytes: 4096 };
    writeProc(root, { ...java, utime: 160, threads });
    ({ series } = await collect());
    assert.is(series.get(`namedprocess_namegroup_thread_cpu_seconds_total{${g},threadname="GC Thread#0",mode="user"}`), 1);
    assert.is(series.get(`namedprocess_namegroup_thread_io_bytes_total{${g},threadname="GC Thread#0",iomode="read"}`), 4096);
    assert.is(series.get(`namedprocess_namegroup_context_switches_total{${g},ctxswitchtype="voluntary"}`), 10, 'the threads\' switches summed');
    assert.is(series.get(`namedprocess_namegroup_cpu_seconds_total{${g},mode="user"}`), 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
