/**
 * The Loki side of logs against the strict stand-in (test/helpers/loki.ts):
 * snappy and the protobuf body, what the stand-in refuses as real Loki
 * does, and the pusher's batching, retries (Retry-After), 4xx handling,
 * spool bound and metrics, over the hub's real store and group commit.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry } from 'prom-client';
import { snappyCompress, snappyDecompress } from '../../hub/logs/snappy.ts';
import { jsonPush, protobufPush, type PushStream } from '../../hub/logs/loki-push.ts';
import { labelString } from '../../hub/logs/labels.ts';
import { createStore, openDatabase } from '../../hub/store.ts';
import { createGroupCommit } from '../../hub/group-commit.ts';
import { createLogStore } from '../../hub/logs/log-store.ts';
import { createLogMetrics } from '../../hub/logs/log-metrics.ts';
import { createLokiPusher, retryAfterMs } from '../../hub/logs/loki-pusher.ts';
import type { LogsMessage } from '../../protocol/index.ts';
import { startLokiStandIn } from '../helpers/loki.ts';
import { waitFor } from '../helpers/processes.ts';

const silent = { info() {}, warn() {}, error() {}, debug() {} };

test('snappy: the format description\'s own shapes decode, and a round trip keeps every byte', () => {
  // varint 5, a literal of 5 ("hello").
  assert.equal(snappyDecompress(Buffer.from([0x05, 0x10, ...Buffer.from('hello')])).toString(), 'hello');
  // "abcdabcdabcd": literal "abcd", then a copy1 of 8 bytes from offset 4 (tag 0b001_100_01 = 0x11).
  assert.equal(snappyDecompress(Buffer.from([0x0c, 0x0c, ...Buffer.from('abcd'), 0x11, 0x04])).toString(), 'abcdabcdabcd');
  // copy2: 10 bytes from offset 2 after "xy".
  assert.equal(snappyDecompress(Buffer.from([0x0c, 0x04, ...Buffer.from('xy'), 0x26, 0x02, 0x00])).toString(), 'xyxyxyxyxyxy');
  for (const bad of [[0x05, 0x10, 0x68], [0x04, 0x05, 0x01], [0x0c, 0x0c, ...Buffer.from('abcd'), 0x11, 0x09], [0x03, 0x10, ...Buffer.from('hello')]]) {
    assert.throws(() => snappyDecompress(Buffer.from(bad)), (e: Error & { code?: string }) => e.code === 'MUSTER_ERR_SNAPPY');
  }
  const text = Buffer.from(Array.from({ length: 5000 }, (_, i) => `line ${i % 97} of a log with some repetition ${i}\n`).join(''));
  const packed = snappyCompress(text);
  assert.ok(packed.length < text.length / 3, `compressed ${text.length} to ${packed.length}`);
  assert.ok(snappyDecompress(packed).equals(text));
  const random = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 2654435761) >>> 24));
  assert.ok(snappyDecompress(snappyCompress(random)).equals(random));
  assert.ok(snappyDecompress(snappyCompress(Buffer.alloc(0))).equals(Buffer.alloc(0)));
});

test('Retry-After: seconds or an HTTP date', () => {
  assert.is(retryAfterMs('3', 0), 3000);
  assert.is(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6_000);
  assert.is(retryAfterMs('soon', 0), undefined);
  assert.is(retryAfterMs(null, 0), undefined);
});

const stream = (labels: [string, string][], lines: [number, string][]): PushStream => ({
  labels, labelText: labelString(labels), entries: lines.map(([ts, line]) => ({ ts, ns: 0, line, meta: [['pid', '42']] })),
});

async function post(url: string, body: { body: Buffer; contentType: string }, text?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/loki/api/v1/push`, { method: 'POST', headers: { 'content-type': body.contentType }, body: text ?? body.body });
  return { status: res.status, text: await res.text() };
}

test('the stand-in takes what real Loki takes, in both encodings, and refuses what it refuses', async () => {
  const loki = await startLokiStandIn();
  try {
    const t = Date.now();
    const ok = stream([['instance', 'pi'], ['job', 'docker']], [[t, 'one'], [t + 1, 'two']]);
    assert.is((await post(loki.url, protobufPush([ok]))).status, 204);
    assert.is((await post(loki.url, jsonPush([stream([['instance', 'pi'], ['job', 'docker']], [[t + 2, 'three']])]))).status, 204);
    assert.equal(loki.entries({ instance: 'pi' }).map((e) => e.line), ['one', 'two', 'three']);
    assert.equal(loki.entries()[0]!.meta, { pid: '42' });
    assert.is(loki.pushes[0]!.encoding, 'protobuf');
    assert.is(loki.pushes[1]!.encoding, 'json');

    const refuse = async (s: PushStream, pattern: RegExp) => {
      const r = await post(loki.url, protobufPush([s]));
      assert.is(r.status, 400, `${s.labelText}: ${r.text}`);
      assert.match(r.text, pattern);
    };
    const unsorted: PushStream = { ...stream([], [[t, 'x']]), labelText: '{job="docker", instance="pi"}' };
    await refuse(unsorted, /not sorted/);
    await refuse({ ...stream([], [[t, 'x']]), labelText: '{instance="pi", instance="pj"}' }, /duplicate label name/);
    await refuse({ ...stream([], [[t, 'x']]), labelText: '{0bad="x"}' }, /error parsing labels/);
    await refuse({ ...stream([], [[t, 'x']]), labelText: '{}' }, /at least one label/);
    const many = Array.from({ length: 16 }, (_, i) => [`l${String(i).padStart(2, '0')}`, 'v'] as [string, string]);
    await refuse(stream(many, [[t, 'x']]), /16 label names; limit 15/);
    // service_name is Loki's own: fifteen others and it pass.
    assert.is((await post(loki.url, protobufPush([stream([...many.slice(0, 15), ['service_name', 'web']], [[t, 'x']])]))).status, 204);
    await refuse(stream([['instance', 'pi'], ['job', 'docker']], [[t - 5, 'older than what the stream holds']]), /entry out of order/);
    await refuse(stream([['instance', 'pi'], ['job', 'long']], [[t, 'x'.repeat(256 * 1024 + 1)]]), /Max entry size/);
    await refuse(stream([['instance', 'pi'], ['job', 'old']], [[t - 8 * 86_400_000, 'x']]), /too old/);
    await refuse(stream([['instance', 'pi'], ['job', 'new']], [[t + 3_600_000, 'x']]), /too new/);
    // Partial success as Loki does it: the good stream is ingested, the request still 400.
    const r = await post(loki.url, protobufPush([stream([['job', 'mixed']], [[t, 'good']]), { ...stream([], [[t, 'x']]), labelText: '{b="1", a="2"}' }]));
    assert.is(r.status, 400);
    assert.equal(loki.entries({ job: 'mixed' }).map((e) => e.line), ['good']);
    // A duplicate (same time, same line) is dropped silently; the same time with other text is kept.
    assert.is((await post(loki.url, protobufPush([stream([['job', 'mixed']], [[t, 'good'], [t, 'other']])]))).status, 204);
    assert.equal(loki.entries({ job: 'mixed' }).map((e) => e.line), ['good', 'other']);
    // JSON's rules: nanoseconds as a string.
    assert.is((await post(loki.url, { body: Buffer.alloc(0), contentType: 'application/json' }, JSON.stringify({ streams: [{ stream: { a: 'b' }, values: [[t * 1e6, 'x']] }] }))).status, 400);
    assert.is((await post(loki.url, { body: Buffer.from('x'), contentType: 'text/plain' })).status, 415);
    // Broken snappy or protobuf: 400, not a crash.
    assert.is((await post(loki.url, { body: Buffer.from([0x20, 0x01, 0x02]), contentType: 'application/x-protobuf' })).status, 400);
    assert.is((await post(loki.url, { body: snappyCompress(Buffer.from([0x0a, 0x10, 0x01])), contentType: 'application/x-protobuf' })).status, 400);
  } finally {
    await loki.close();
  }
});

/** A hub store with one node, its log store on a real group commit, and a pusher to `url`. */
function setup(url: string, opts: { encoding?: 'json' | 'protobuf'; maxBytes?: number; batchBytes?: number; pause?: () => Promise<void> } = {}) {
  const db = openDatabase(':memory:');
  const commits = createGroupCommit({ db, now: Date.now, log: silent }, { everyMs: 5 });
  const store = createStore({ db, commits });
  const node = store.joinNode('pi-1', 'm1', Date.now());
  const logs = createLogStore({ db, commits, now: Date.now }, { maxBytes: opts.maxBytes ?? 1024 ** 3 });
  const registry = new Registry();
  const metrics = createLogMetrics(registry, logs);
  const errors: unknown[] = [];
  const log = { ...silent, error: (o: unknown) => void errors.push(o), warn() {} };
  const pusher = createLokiPusher({ store: logs, now: Date.now, log, metrics, ...(opts.pause ? { pause: opts.pause } : {}) }, { url, ...(opts.encoding ? { encoding: opts.encoding } : {}) },
    { batchWaitMs: 20, minBackoffMs: 50, maxBackoffMs: 200, batchBytes: opts.batchBytes ?? 1024 * 1024 });
  let seq = 0;
  const ship = (lines: string[], t = Date.now(), src: LogsMessage['src'][number] = { kind: 'docker', name: 'web-1', id: 'c'.repeat(64), image: 'nginx:1', compose: 'web' }) => {
    const msg: LogsMessage = { type: 'logs', seq: ++seq, ts: t, src: [src], lines: lines.map((l, i) => ({ s: 0, t: t + i, n: 0, l, ...(l.includes('ERROR') ? { v: 'error' as const } : {}) })) };
    logs.ingest(node, msg);
    store.advanceAcked(node.id, msg.seq);
    commits.flush();
  };
  const value = async (name: string, labels = '') => {
    const text = await registry.metrics();
    const m = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : '(?:\\{[^}]*\\})?'} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  return { db, commits, logs, pusher, ship, value, errors, close: async () => { await pusher.close(); commits.close(); db.close(); } };
}

test('the pusher sends a stream\'s lines in order with the labels and metadata the design names, in both encodings', async () => {
  const loki = await startLokiStandIn();
  for (const encoding of ['protobuf', 'json'] as const) {
    const h = setup(loki.url, { encoding });
    try {
      h.pusher.start();
      h.ship([`${encoding} one`, `${encoding} ERROR two`, `${encoding} three`]);
      await waitFor('the push', () => loki.entries({ instance: 'pi-1' }).filter((e) => e.line.startsWith(encoding)).length === 3, 5_000, 20);
      const all = loki.entries({ instance: 'pi-1', job: 'docker', service_name: 'web', container: 'web-1' }).filter((e) => e.line.startsWith(encoding));
      assert.is(all.length, 3);
      const info = all.filter((e) => !('level' in e.labels));
      assert.equal(info.map((e) => e.line), [`${encoding} one`, `${encoding} three`], 'no level label where the line says none');
      const err = loki.entries({ level: 'error' }).filter((e) => e.line.startsWith(encoding));
      assert.is(err.length, 1);
      assert.equal(err[0]!.meta, { container_id: 'c'.repeat(64), image: 'nginx:1', stream: 'stdout' });
      assert.is(await h.value('muster_logs_pushed_lines_total'), 3);
      assert.is(await h.value('muster_logs_spooled_lines'), 0);
    } finally {
      await h.close();
    }
  }
  assert.ok(loki.pushes.every((p) => p.status === 204), JSON.stringify(loki.pushes.filter((p) => p.status !== 204)));
  await loki.close();
});

test('a big push is built in pieces, the event loop turning between them, and every line still arrives once, in order', async () => {
  const loki = await startLokiStandIn();
  let pauses = 0;
  let turnsBetween = 0;
  const pause = () => new Promise<void>((resolve) => {
    pauses++;
    // Something else queued now (an ack, a frame) runs before the push goes on.
    setImmediate(() => { turnsBetween++; });
    setImmediate(resolve);
  });
  const h = setup(loki.url, { batchBytes: 256 * 1024, pause });
  try {
    const lines = Array.from({ length: 4000 }, (_, i) => `${String(i).padStart(5, '0')} GET /api/v1/items/${i} HTTP/1.1 200 5123 "Mozilla/5.0 (X11; Linux x86_64)" ${'x'.repeat(i % 60)}`);
    for (let i = 0; i < lines.length; i += 500) h.ship(lines.slice(i, i + 500), Date.now() + i);
    h.pusher.start();
    h.pusher.kick();
    await h.pusher.drained();
    const got = loki.entries({ instance: 'pi-1' }).map((e) => e.line);
    assert.equal(got, lines);
    const pushes = loki.pushes.filter((p) => p.status === 204).length;
    assert.ok(pushes >= 2, `${pushes} pushes of at most 256 KiB for ${lines.length} lines`);
    // Each push: rows read 500 at a time, snappy 64 KiB at a time, a pause between every two pieces.
    assert.ok(pauses >= pushes * 4, `${pauses} pauses over ${pushes} pushes`);
    assert.is(turnsBetween, pauses);
  } finally {
    await h.close();
    await loki.close();
  }
});

test('503 and 429 are retried no sooner than Retry-After; lines wait in the store meanwhile', async () => {
  const loki = await startLokiStandIn();
  const h = setup(loki.url);
  try {
    h.pusher.start();
    loki.failNext(1, 503, '2');
    const started = Date.now();
    h.ship(['during an outage']);
    await waitFor('the retry', () => loki.entries().length === 1, 10_000, 20);
    const waited = Date.now() - started;
    assert.ok(waited >= 2_000, `retried after ${waited} ms, Retry-After said 2 s`);
    loki.failNext(2, 429, '1');
    const again = Date.now();
    h.ship(['rate limited']);
    await waitFor('the retries', () => loki.entries().length === 2, 10_000, 20);
    assert.ok(Date.now() - again >= 2_000, 'two 429s with Retry-After 1 s each');
    assert.is(await h.value('muster_loki_push_requests_total', 'target="http://127.0.0.1:' + loki.port + '/loki/api/v1/push",status="503"'), 1);
    assert.is(await h.value('muster_loki_push_requests_total', 'target="http://127.0.0.1:' + loki.port + '/loki/api/v1/push",status="429"'), 2);
    assert.is(await h.value('muster_logs_dropped_lines_total', 'reason="loki_rejected",target="http://127.0.0.1:' + loki.port + '/loki/api/v1/push"'), undefined);
  } finally {
    await h.close();
    await loki.close();
  }
});

test('a Loki that answers 400 for one batch: logged once with its message, that batch dropped and counted, the next ones pushed', async () => {
  const loki = await startLokiStandIn();
  const h = setup(loki.url);
  try {
    h.pusher.start();
    h.ship(['before']);
    await waitFor('the first push', () => loki.entries().length === 1, 5_000, 20);
    loki.failNext(1, 400, undefined, "entry for stream '{instance=\"pi-1\"}' has timestamp too old");
    h.ship(['refused one', 'refused two']);
    await waitFor('the refusal', () => loki.pushes.some((p) => p.status === 400), 5_000, 20);
    h.ship(['after']);
    await waitFor('the next push', () => loki.entries().some((e) => e.line === 'after'), 5_000, 20);
    assert.equal(loki.entries().map((e) => e.line), ['before', 'after']);
    assert.is(loki.pushes.filter((p) => p.status === 400).length, 1, 'the refused batch is not sent again');
    assert.is(h.errors.length, 1);
    assert.match(JSON.stringify(h.errors[0]), /timestamp too old/);
    assert.is(await h.value('muster_logs_dropped_lines_total', `reason="loki_rejected",target="http://127.0.0.1:${loki.port}/loki/api/v1/push"`), 2);
    // A second refusal of the same kind is counted, not logged again.
    loki.failNext(1, 400, undefined, "entry for stream '{instance=\"pi-2\"}' has timestamp too old");
    h.ship(['refused three']);
    await waitFor('the second refusal', () => loki.pushes.filter((p) => p.status === 400).length === 2, 5_000, 20);
    await h.pusher.drained();
    assert.is(h.errors.length, 1);
  } finally {
    await h.close();
    await loki.close();
  }
});

test('lines that come after newer ones of their stream go out at the stream\'s newest time, which an ordered Loki takes', async () => {
  const loki = await startLokiStandIn({ orderedWrites: true });
  const h = setup(loki.url);
  try {
    h.pusher.start();
    const t = Date.now();
    h.ship(['new'], t);
    await waitFor('the push', () => loki.entries().length === 1, 5_000, 20);
    h.ship(['late'], t - 60_000);
    await waitFor('the late line', () => loki.entries().length === 2, 5_000, 20);
    assert.ok(loki.pushes.every((p) => p.status === 204));
    assert.equal(loki.entries().map((e) => e.line), ['new', 'late']);
  } finally {
    await h.close();
    await loki.close();
  }
});

test('while Loki is down lines spool in the store; past its bound the oldest go, counted per target', async () => {
  const loki = await startLokiStandIn();
  await loki.down();
  const h = setup(loki.url, { maxBytes: 2 * 1024 * 1024 });
  try {
    h.pusher.start();
    const line = 'x'.repeat(1000);
    for (let b = 0; b < 30; b++) h.ship(Array.from({ length: 100 }, (_, i) => `${b}:${i} ${line}`));
    assert.ok((await h.value('muster_logs_spooled_lines'))! >= 3000);
    const removed = h.logs.prune();
    assert.ok(removed > 0 && removed <= 1100, `pruned ${removed}`);
    const target = `target="http://127.0.0.1:${loki.port}/loki/api/v1/push"`;
    assert.is(await h.value('muster_logs_dropped_lines_total', `reason="loki_spool_full",${target}`), removed);
    assert.ok(h.logs.stats().bytes <= 2 * 1024 * 1024);
    await loki.up();
    await waitFor('the spool pushed', () => loki.entries().length === 3000 - removed, 20_000, 50);
    const first = loki.entries()[0]!.line.split(' ')[0];
    assert.is(first, `${removed / 100}:0`, 'the oldest went first');
  } finally {
    await h.close();
    await loki.close();
  }
});

test.run();
