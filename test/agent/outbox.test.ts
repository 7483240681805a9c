/**
 * The outbox over the journal, on real files: frames built from durable
 * records with their sequence numbers spliced in, samples batched, every
 * frame valid for the hub's decoder, losses kept across a restart.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openOutbox } from '../../agent/outbox.ts';
import { createAgentMessageDecoder, type SampleData, type WorkloadsMessage } from '../../protocol/index.ts';
import { tempDir } from '../helpers/processes.ts';

const decode = createAgentMessageDecoder();
/** Records older than the journal's age bound (12 h) are dropped: times near now. */
const T = Date.now() - 60_000;
const data = (n: number): SampleData => ({
  cpu: [], load: [n, 0, 0], filesystems: [], network: [], temperatures: [], unavailable: [],
  memory: { totalBytes: 1, availableBytes: 1, freeBytes: 1, buffersBytes: 0, cachedBytes: 0, swapTotalBytes: 0, swapFreeBytes: 0 },
});
const delta = (ts: number): Omit<WorkloadsMessage, 'seq'> => ({
  type: 'workloads', ts, upsert: { processes: [], containers: [], units: [], ports: [] }, remove: { processes: [7], containers: [], units: [], ports: [] }, use: [],
});

/** Decodes every frame as the hub does, failing on any the schema refuses. */
function decodeAll(frames: string[]) {
  return frames.map((f) => {
    const r = decode(f);
    if (!r.ok) throw new Error(`frame refused: ${r.reason}`);
    return r.value;
  });
}

test('samples and workloads leave in sequence order: consecutive samples share a frame, each delta is its own, all valid', () => {
  const o = openOutbox({ dir: tempDir('outbox'), syncEveryMs: 0 });
  const seqs = [o.pushSample(T + 1000, data(1)), o.pushSample(T + 2000, data(2)), o.pushWorkloads(delta(T + 2500)), o.pushSample(T + 3000, data(3))];
  assert.equal(seqs, [1, 2, 3, 4]);
  const out = o.framesAfter(0, 100, 1 << 20);
  assert.is(out.lastSeq, 4);
  const msgs = decodeAll(out.frames);
  assert.equal(msgs.map((m) => m.type), ['samples', 'workloads', 'samples']);
  const [first, second, third] = msgs as [any, any, any];
  assert.equal(first.samples.map((s: { seq: number; ts: number }) => [s.seq, s.ts]), [[1, T + 1000], [2, T + 2000]]);
  assert.is(first.samples[1].data.load[0], 2);
  assert.is(second.seq, 3);
  assert.equal(second.remove.processes, [7]);
  assert.equal(third.samples.map((s: { seq: number }) => s.seq), [4]);
  assert.equal(first.lost, { overflow: 0, expired: 0, corrupt: 0, renumbered: 0, unwritten: 0 });
  assert.equal(decodeAll(o.framesAfter(2, 100, 1 << 20).frames).map((m) => m.type), ['workloads', 'samples'], 'after a position: only what follows');
  assert.is(o.framesAfter(0, 2, 1 << 20).lastSeq, 2, 'at most the records asked for');
  o.close();
});

test('an ack forgets records; a reopened outbox keeps the unacked ones with their numbers and continues after them', () => {
  const dir = tempDir('outbox');
  const o = openOutbox({ dir, syncEveryMs: 0 });
  for (let i = 1; i <= 5; i++) o.pushSample(T + i * 1000, data(i));
  o.ack(3);
  assert.is(o.size(), 2);
  o.close();
  const again = openOutbox({ dir, syncEveryMs: 0 });
  const samples = (decodeAll(again.framesAfter(0, 100, 1 << 20).frames)[0] as { samples: { seq: number; ts: number }[] }).samples;
  assert.equal(samples.map((s) => [s.seq, s.ts]), [[4, T + 4000], [5, T + 5000]]);
  assert.is(again.pushSample(T + 6000, data(6)), 6, 'numbering goes on, never back');
  again.close();
});

test('a torn journal tail is counted as lost, reported in every frame, and still counted after another restart', () => {
  const dir = tempDir('outbox');
  const o = openOutbox({ dir, syncEveryMs: 0 });
  for (let i = 1; i <= 3; i++) o.pushSample(T + i * 1000, data(i));
  o.close();
  const segDir = join(dir, 'journal', 'main');
  const seg = join(segDir, readdirSync(segDir).filter((f) => f.endsWith('.seg')).sort().pop()!);
  truncateSync(seg, statSync(seg).size - 5); // a power cut in the middle of the last record
  const torn = openOutbox({ dir, syncEveryMs: 0 });
  assert.is(torn.lost().corrupt, 1);
  const frame = decodeAll(torn.framesAfter(0, 100, 1 << 20).frames)[0] as { samples: { seq: number }[]; dropped: number; lost: { corrupt: number } };
  assert.equal(frame.samples.map((s) => s.seq), [1, 2], 'the records before the tear survive');
  assert.is(frame.dropped, 1);
  assert.is(frame.lost.corrupt, 1);
  torn.close();
  const later = openOutbox({ dir, syncEveryMs: 0 });
  assert.is(later.lost().corrupt, 1, 'the count survives a restart (lost.json)');
  later.close();
});

test.run();
