import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createOutbox } from '../../agent/outbox.ts';
import type { SampleData } from '../../protocol/index.ts';

const data = (n: number): SampleData => ({
  cpu: [], load: [n, 0, 0], filesystems: [], network: [], temperatures: [], unavailable: [],
  memory: { totalBytes: 1, availableBytes: 1, freeBytes: 1, buffersBytes: 0, cachedBytes: 0, swapTotalBytes: 0, swapFreeBytes: 0 },
});

test('numbers samples from 1 without gaps and forgets them on a cumulative ack', () => {
  const o = createOutbox();
  for (let i = 0; i < 5; i++) o.push(i, data(i));
  assert.equal(o.pendingAfter(0, 10).map((s) => s.seq), [1, 2, 3, 4, 5]);
  o.ack(3);
  assert.equal(o.pendingAfter(0, 10).map((s) => s.seq), [4, 5]);
  assert.equal(o.pendingAfter(4, 10).map((s) => s.seq), [5]);
  assert.equal(o.pendingAfter(0, 1).map((s) => s.seq), [4], 'batches are limited');
});

test('when full, drops the oldest and counts the loss', () => {
  const o = createOutbox({ capacity: 3 });
  for (let i = 0; i < 5; i++) o.push(i, data(i));
  assert.is(o.size(), 3);
  assert.is(o.dropped(), 2);
  assert.equal(o.pendingAfter(0, 10).map((s) => s.seq), [3, 4, 5]);
});

test('rebase drops what the hub already stored after a lost ack', () => {
  const o = createOutbox();
  for (let i = 0; i < 4; i++) o.push(i, data(i));
  o.rebase(2);
  assert.equal(o.pendingAfter(0, 10).map((s) => s.seq), [3, 4]);
});

test('rebase renumbers after the hub when the agent lost its numbering (new state directory)', () => {
  const o = createOutbox();
  o.push(1, data(1));
  o.push(2, data(2));
  o.rebase(40);
  assert.equal(o.pendingAfter(0, 10).map((s) => s.seq), [41, 42]);
  assert.is(o.push(3, data(3)).seq, 43);
});

test('a snapshot restores pending samples and the numbering across an agent restart', () => {
  const o = createOutbox();
  for (let i = 0; i < 3; i++) o.push(i, data(i));
  o.ack(1);
  const again = createOutbox({}, JSON.parse(JSON.stringify(o.snapshot())));
  assert.equal(again.pendingAfter(0, 10).map((s) => s.seq), [2, 3]);
  assert.is(again.push(9, data(9)).seq, 4);
  const small = createOutbox({ capacity: 1 }, o.snapshot());
  assert.is(small.size(), 1);
  assert.is(small.dropped(), 1, 'a restore into a smaller outbox counts what it cannot keep');
});

test.run();
