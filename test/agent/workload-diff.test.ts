import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createWorkloadDiff, type WorkloadState } from '../../agent/workload-diff.ts';
import { createAgentMessageDecoder, MAX_FRAME_BYTES, type ProcessInfo, type WorkloadsMessage } from '../../protocol/index.ts';

const proc = (pid: number, cpuSeconds = 1, cmdline = `/usr/bin/daemon-${pid} --flag`): ProcessInfo => ({
  pid, ppid: 1, name: `daemon-${pid}`.slice(0, 15), cmdline, uid: 0, user: 'root', startTime: 1_700_000_000 + pid,
  cpuSeconds, rssBytes: 4096 * pid, owner: {},
});

const state = (processes: ProcessInfo[], extra: Partial<WorkloadState['lists']> = {}): WorkloadState => ({
  lists: { processes, containers: [], units: [], ports: [], ...extra },
  use: [],
  collectors: { processes: 'ok', containers: 'ok', units: 'systemd is not PID 1', ports: 'ok' },
});

const decode = createAgentMessageDecoder();
/** Every frame must pass the hub's own decoder and fit its frame limit. */
function valid(frames: WorkloadsMessage[]): void {
  for (const f of frames) {
    const raw = JSON.stringify(f);
    assert.ok(raw.length < MAX_FRAME_BYTES, `frame of ${raw.length} bytes`);
    const r = decode(raw);
    assert.ok(r.ok, r.ok ? '' : r.reason);
  }
}

test('a snapshot carries everything once, marked as one sync with a last part', () => {
  const diff = createWorkloadDiff();
  const frames = diff.snapshot(state([proc(10), proc(11)]), 7, 1000);
  valid(frames);
  assert.is(frames.length, 1);
  assert.equal(frames[0]!.sync, { id: 7, part: 0, last: true });
  assert.is(frames[0]!.upsert.processes.length, 2);
  assert.ok(frames[0]!.collectors, 'a snapshot always states the collectors');
});

test('500 idle processes: after the snapshot, an unchanged reading sends nothing; one busy process sends one record', () => {
  const diff = createWorkloadDiff();
  const procs = Array.from({ length: 500 }, (_, i) => proc(100 + i));
  diff.snapshot(state(procs), 1, 0);
  assert.equal(diff.delta(state(procs.map((p) => ({ ...p }))), 1), []);
  const busy = procs.map((p) => (p.pid === 300 ? { ...p, cpuSeconds: 2.5 } : p));
  const frames = diff.delta(state(busy), 2);
  valid(frames);
  assert.is(frames.length, 1);
  assert.equal(frames[0]!.upsert.processes.map((p) => p.pid), [300]);
  assert.is(frames[0]!.sync, undefined);
  assert.is(frames[0]!.collectors, undefined, 'collectors only when they change');
});

test('removals go by key; a new collector state is sent once', () => {
  const diff = createWorkloadDiff();
  diff.snapshot(state([proc(10), proc(11)]), 1, 0);
  const s = state([proc(10)]);
  s.collectors.units = 'ok';
  const frames = diff.delta(s, 1);
  valid(frames);
  assert.equal(frames[0]!.remove.processes, [11]);
  assert.is(frames[0]!.collectors?.units, 'ok');
  assert.equal(diff.delta(s, 2), []);
});

test('running containers send their use every time, even with nothing else changed', () => {
  const diff = createWorkloadDiff();
  const s = state([]);
  diff.snapshot(s, 1, 0);
  s.use = [{ id: 'c1', cpuSeconds: 1, memoryBytes: 10, workingSetBytes: 5, rxBytes: 0, txBytes: 0 }];
  const frames = diff.delta(s, 1);
  assert.is(frames.length, 1);
  assert.is(frames[0]!.use.length, 1);
});

test('a huge snapshot is cut into frames under the limit, numbered, the last one marked', () => {
  const diff = createWorkloadDiff();
  const long = 'x'.repeat(2000);
  const procs = Array.from({ length: 3000 }, (_, i) => proc(100 + i, 1, `/bin/app ${long}`));
  const frames = diff.snapshot(state(procs), 3, 0);
  valid(frames);
  assert.ok(frames.length > 3, `${frames.length} frames`);
  frames.forEach((f, i) => assert.equal(f.sync, { id: 3, part: i, last: i === frames.length - 1 }));
  assert.is(frames.reduce((n, f) => n + f.upsert.processes.length, 0), 3000);
  // A snapshot resets what was sent: the next delta compares with it.
  assert.equal(diff.delta(state(procs), 1), []);
});

test.run();
