/**
 * The shared scan of /proc/PID/stat: one pass serves the process list and
 * the process groups within its age; kernel threads are read once and then
 * every KTHREAD_RECHECK scans; reading through the shared scan gives what
 * each reader gives on its own.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createProcScan, KTHREAD_RECHECK } from '../../../agent/collectors/proc-scan.ts';
import { createProcessReader } from '../../../agent/collectors/processes.ts';
import { createProcessGroupsCollector } from '../../../agent/collectors/process-groups.ts';
import { createMetricsCollector } from '../../../agent/collectors/registry.ts';
import { createSmallFileReader } from '../../../agent/collectors/read.ts';
import { tempDir } from '../../helpers/processes.ts';

const PF_KTHREAD = 0x00200000;

/** A /proc/PID/stat line with the given parent and flags. */
function statLine(pid: number, comm: string, ppid: number, flags: number): string {
  const f = ['S', ppid, pid, pid, 0, -1, flags, 0, 0, 0, 0, 7, 3, 0, 0, 20, 0, 1, 0, 100, 1000, 10];
  return `${pid} (${comm}) ${f.join(' ')} 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`;
}

test('kernel threads are read on the first scan, skipped, and read again every KTHREAD_RECHECK scans; kept when asked', () => {
  const root = tempDir('procscan');
  try {
    const procs: Array<[number, string, number, number]> = [[2, 'kthreadd', 0, PF_KTHREAD], [7, 'kworker/0:1', 2, PF_KTHREAD], [40, 'modprobe', 2, 0x400100], [50, 'cron', 1, 0x400100]];
    for (const [pid, comm, ppid, flags] of procs) {
      mkdirSync(join(root, 'proc', String(pid)), { recursive: true });
      writeFileSync(join(root, 'proc', String(pid), 'stat'), statLine(pid, comm, ppid, flags));
    }
    writeFileSync(join(root, 'proc', 'uptime'), '1 1\n');
    const small = createSmallFileReader(root);
    const reads: string[] = [];
    const scan = createProcScan({ root, readFile: (p) => { reads.push(p); return small(p); } });
    const pids = () => scan.read().procs.map((s) => s.pid).sort((a, b) => a - b);
    assert.equal(pids(), [40, 50], 'a user-mode helper is not a kernel thread');
    assert.is(reads.length, 4, 'every stat read once');
    for (let i = 2; i < KTHREAD_RECHECK; i++) {
      reads.length = 0;
      assert.equal(pids(), [40, 50]);
      assert.equal(reads.sort(), ['/proc/40/stat', '/proc/50/stat'], `scan ${i}: the kernel threads are skipped`);
    }
    reads.length = 0;
    assert.equal(pids(), [40, 50]);
    assert.is(reads.length, 4, `scan ${KTHREAD_RECHECK}: the kernel threads are looked at again`);

    const all = createProcScan({ root, skipKernelThreads: false });
    assert.equal(all.read().procs.map((s) => s.pid).sort((a, b) => a - b), [2, 7, 40, 50]);
    assert.is(all.read().errors, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a kernel thread\'s pid that is gone is forgotten: a process that reuses it is read at the next scan', () => {
  const root = tempDir('procscan-reuse');
  try {
    const write = (pid: number, comm: string, ppid: number, flags: number) => {
      mkdirSync(join(root, 'proc', String(pid)), { recursive: true });
      writeFileSync(join(root, 'proc', String(pid), 'stat'), statLine(pid, comm, ppid, flags));
    };
    write(7, 'kworker/0:1', 2, PF_KTHREAD);
    write(50, 'cron', 1, 0x400100);
    const scan = createProcScan({ root });
    assert.equal(scan.read().procs.map((s) => s.pid), [50]);
    assert.equal(scan.read().procs.map((s) => s.pid), [50]);
    rmSync(join(root, 'proc', '7'), { recursive: true });
    assert.equal(scan.read().procs.map((s) => s.pid), [50], 'the kworker ended');
    write(7, 'sshd', 1, 0x400100);
    assert.equal(scan.read().procs.map((s) => s.pid).sort((a, b) => a - b), [7, 50], 'its pid, reused, is a process like any other');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('real /proc: the process groups take the process list\'s scan within maxAgeMs, and read again after; the list always scans anew', async () => {
  let now = 1_000_000;
  const small = createSmallFileReader('/');
  let statReads = 0;
  const scan = createProcScan({ maxAgeMs: 1_000, now: () => now, readFile: (p) => { statReads++; return small(p); } });
  const reader = createProcessReader({ scan });
  const groups = createMetricsCollector({ registry: [createProcessGroupsCollector({ scan })] });

  const procs = await reader.read();
  const once = statReads;
  assert.ok(once > 0);
  assert.ok(procs.some((p) => p.pid === process.pid), 'this process is listed');
  const fams = await groups.collect();
  assert.is(statReads, once, 'the process groups read no stat of their own');
  assert.equal(fams.find((f) => f.name === 'node_scrape_collector_success')!.values, [1]);
  const numProcs = fams.find((f) => f.name === 'namedprocess_namegroup_num_procs')!;
  assert.ok(numProcs.values.reduce((a, b) => a + b, 0) > 0, 'the groups have processes');

  // The process list scans anew every time: the listeners tie the socket tables read right after it to its processes.
  await reader.read();
  const afterList = statReads;
  assert.ok(afterList > once, 'the process list does not take an older scan');
  // The process groups take that scan while it is young, and read again after maxAgeMs.
  now += 999;
  await groups.collect();
  assert.is(statReads, afterList, 'still young enough');
  now += 1;
  await groups.collect();
  assert.ok(statReads > afterList, 'read again once maxAgeMs has passed');
});

test('real /proc: the process list through a shared scan is the list read on its own (the idle processes, which do not change)', async () => {
  let now = 0;
  const shared = createProcScan({ maxAgeMs: 60_000, now: () => now });
  const viaShared = createProcessReader({ scan: shared });
  const alone = createProcessReader({});
  // Read twice: the second read of each is what an idle process looks like in steady state.
  await viaShared.read();
  await alone.read();
  // Between the two reads a process may exec, or lose its parent (on a busy machine, often enough):
  // a difference that the next attempt does not show again is such a change, not the scan's doing.
  let differ: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const a = await viaShared.read();
    const b = await alone.read();
    const key = (p: { pid: number; startTime: number }) => `${p.pid}@${p.startTime}`;
    const bs = new Map(b.map((p) => [key(p), p]));
    let same = 0;
    differ = [];
    for (const p of a) {
      const q = bs.get(key(p));
      if (!q) continue;
      same++;
      const [x, y] = [{ ...q, cpuSeconds: 0, rssBytes: 0 }, { ...p, cpuSeconds: 0, rssBytes: 0 }];
      if (JSON.stringify(x) !== JSON.stringify(y)) differ.push(`${JSON.stringify(x)} != ${JSON.stringify(y)}`);
    }
    assert.ok(same >= Math.min(a.length, b.length) / 2, `most processes are in both (${same} of ${a.length})`);
    assert.ok(!a.some((p) => p.ppid === 2 || p.pid === 2), 'no kernel threads');
    if (differ.length === 0) break;
    now += 60_000; // a newer scan for the next attempt
  }
  assert.equal(differ, []);
});

test.run();
