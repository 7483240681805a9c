/**
 * The agent's durable journal on real files: numbering, durability gating,
 * acks that delete segments, replay after a close and after a crash, damaged
 * files, the size and age bounds, rebase against a hub that is ahead, and a
 * writer killed with SIGKILL.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { build } from 'esbuild';
import { crc32 } from '../../agent/crc32.ts';
import { MAX_HELD_RECORDS, RECORD_HEADER_BYTES, openJournal, type Journal, type JournalLane, type JournalOptions } from '../../agent/journal.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const JOURNAL_MODULE = join(ROOT, 'agent/journal.ts');
const NODE18 = process.env.MUSTER_NODE18 ?? join(ROOT, '.cache/node18/bin/node');

const tempDir = () => mkdtempSync(join(tmpdir(), 'muster-journal-'));
/**
 * Every append fsync'd at once unless a test says otherwise; the clock stands
 * still near the small ts values the tests use, so nothing expires by accident.
 */
const open = (dir: string, opts: Partial<JournalOptions> = {}) => openJournal({ dir, syncEveryMs: 0, now: () => 5000, ...opts });
const segments = (dir: string, lane: JournalLane) => (existsSync(join(dir, lane)) ? readdirSync(join(dir, lane)).filter((f) => f.endsWith('.seg')).sort() : []);
const all = (j: Journal) => j.pendingAfter(0, 1_000_000);
const seqs = (j: Journal) => all(j).map((r) => r.seq);
/** A record's size on disk for a kind and an ASCII body. */
const recordBytes = (kind: string, body: string) => RECORD_HEADER_BYTES + kind.length + body.length;

test('crc32 is the IEEE CRC-32, also over pieces', () => {
  assert.is(crc32(Buffer.from('123456789')), 0xcbf43926);
  const data = randomBytes(10_000);
  assert.is(crc32(data), zlib.crc32(data));
  assert.is(crc32(data.subarray(3_000), crc32(data.subarray(0, 3_000))), zlib.crc32(data));
});

test('numbers records from 1 across lanes; pendingAfter merges lanes by seq within limit and maxBytes', () => {
  const dir = tempDir();
  const j = open(dir);
  const lanes: JournalLane[] = ['main', 'logs', 'logs', 'main', 'logs'];
  assert.equal(lanes.map((lane, i) => j.append(lane, lane === 'main' ? 'sample' : 'logs', 1000 + i, `{"n":${i}}`)), [1, 2, 3, 4, 5]);
  const got = all(j);
  assert.equal(got.map((r) => [r.seq, r.lane, r.kind, r.ts, r.body]), [
    [1, 'main', 'sample', 1000, '{"n":0}'],
    [2, 'logs', 'logs', 1001, '{"n":1}'],
    [3, 'logs', 'logs', 1002, '{"n":2}'],
    [4, 'main', 'sample', 1003, '{"n":3}'],
    [5, 'logs', 'logs', 1004, '{"n":4}'],
  ]);
  assert.equal(j.pendingAfter(2, 2).map((r) => r.seq), [3, 4], 'after and limit');
  // Bodies are 7 bytes each: 15 bytes hold two, and one is returned even when it alone is too big.
  assert.equal(j.pendingAfter(0, 10, 15).map((r) => r.seq), [1, 2]);
  assert.equal(j.pendingAfter(0, 10, 3).map((r) => r.seq), [1]);
  assert.equal(segments(dir, 'main'), ['00000001.seg']);
  assert.equal(segments(dir, 'logs'), ['00000001.seg']);
  assert.is(statSync(dir).mode & 0o777, 0o700);
  assert.is(statSync(join(dir, 'logs')).mode & 0o777, 0o700);
  assert.is(statSync(join(dir, 'logs', '00000001.seg')).mode & 0o777, 0o600);
  j.close();
});

test('only durable records are sent; a burst waits for one batched fsync', async () => {
  const dir = tempDir();
  let t = 0;
  const durable: number[] = [];
  const j = open(dir, { syncEveryMs: 1000, now: () => t, onDurable: (s) => durable.push(s) });
  j.append('main', 'sample', t, '{}');
  assert.is(j.durableSeq(), 1, 'the first append is fsync\'d at once');
  t = 10;
  j.append('logs', 'logs', t, '{}');
  assert.is(j.durableSeq(), 1, 'the second, 10 ms later, waits');
  assert.equal(seqs(j), [1], 'and is not sent yet');
  assert.is(j.stats().pending, 2);
  j.sync();
  assert.is(j.durableSeq(), 2);
  assert.equal(seqs(j), [1, 2]);
  assert.equal(durable, [1, 2]);
  j.sync();
  assert.equal(durable, [1, 2], 'a sync with nothing new does not fsync or report');
  t = 5000;
  j.append('main', 'sample', t, '{}');
  assert.is(j.durableSeq(), 3, 'a sample long after the last fsync is fsync\'d at once');
  j.close();

  // The timer: with syncEveryMs 200 the second append becomes durable about 190 ms later, by itself.
  let t2 = 0;
  let reported: (seq: number) => void = () => {};
  const j2 = open(tempDir(), { syncEveryMs: 200, now: () => t2, onDurable: (s) => reported(s) });
  j2.append('main', 'sample', 0, '{}');
  t2 = 10;
  const started = Date.now();
  const next = new Promise<number>((resolve) => (reported = resolve));
  j2.append('logs', 'logs', 10, '{}');
  j2.append('logs', 'logs', 10, '{}');
  assert.is(j2.durableSeq(), 1);
  // The journal's timer is unref'd (it must not keep an agent alive); this one keeps the test alive meanwhile.
  let guard: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (guard = setTimeout(() => reject(new Error('no fsync within 5 s')), 5000)));
  assert.is(await Promise.race([next, timeout]), 3, 'one fsync covered the burst');
  clearTimeout(guard);
  assert.ok(Date.now() - started >= 150, `the timer waited (${Date.now() - started} ms)`);
  assert.equal(seqs(j2), [1, 2, 3]);
  j2.close();
});

test('ack deletes fully acked segments and saves the position first', () => {
  const dir = tempDir();
  const body = '{"v":1}';
  // Two records per segment.
  const j = open(dir, { segmentBytes: 2 * recordBytes('s', body) });
  for (let i = 0; i < 6; i++) j.append('main', 's', i, body);
  assert.equal(segments(dir, 'main'), ['00000001.seg', '00000002.seg', '00000003.seg']);
  j.ack(3);
  assert.equal(segments(dir, 'main'), ['00000002.seg', '00000003.seg'], 'the segment with 1-2 is gone, 3-4 stays');
  assert.equal(JSON.parse(readFileSync(join(dir, 'position.json'), 'utf8')), { version: 1, acked: 3, nextSeq: 7, remap: [] });
  assert.equal(seqs(j), [4, 5, 6]);
  j.ack(6);
  assert.equal(segments(dir, 'main'), ['00000003.seg'], 'the open segment stays until the next roll');
  assert.equal(j.stats().pending, 0);
  assert.equal(j.pendingAfter(0, 10), []);
  j.close();
  assert.is(statSync(join(dir, 'position.json')).mode & 0o777, 0o600);
  // Even with every segment gone, numbering goes on from the saved position.
  rmSync(join(dir, 'main'), { recursive: true });
  const again = open(dir);
  assert.is(again.append('main', 's', 7, body), 7);
  again.close();
});

test('reopening after close gives back pending records with their seqs, ts and bodies, and numbering goes on', () => {
  const dir = tempDir();
  const j = open(dir, { segmentBytes: 64 });
  for (let i = 1; i <= 5; i++) j.append(i % 2 ? 'main' : 'logs', `k${i}`, 1000 * i, JSON.stringify({ i, text: 'é✓' }));
  j.ack(2);
  const before = all(j);
  j.close();
  const again = open(dir);
  assert.equal(all(again), before);
  assert.equal(before.map((r) => r.seq), [3, 4, 5]);
  assert.equal(before[0], { seq: 3, ts: 3000, lane: 'main', kind: 'k3', body: '{"i":3,"text":"é✓"}' });
  assert.is(again.stats().ackedSeq, 2);
  assert.is(again.append('logs', 'k6', 6000, '{}'), 6);
  again.close();
});

test('reopening after a crash (no close) keeps what was written and numbering goes on', () => {
  const dir = tempDir();
  const j = open(dir);
  j.append('main', 's', 1, '{"a":1}');
  j.append('logs', 'l', 2, '{"b":2}');
  j.ack(1);
  // No close: the object is dropped as a killed process would drop it.
  const again = open(dir);
  assert.equal(all(again).map((r) => [r.seq, r.lane, r.body]), [[1, 'main', '{"a":1}'], [2, 'logs', '{"b":2}']], 'an unsaved ack only means 1 is sent again; the hub ignores it');
  assert.is(again.append('main', 's', 3, '{}'), 3);
  assert.equal(segments(dir, 'main'), ['00000001.seg', '00000002.seg'], 'a reopened journal appends to a new segment, never after a possibly torn tail');
  const third = open(dir);
  assert.equal(seqs(third), [1, 2, 3]);
  third.close();
  again.close();
});

test('a torn tail is cut off and counted; the records before it stay, and later appends read back', () => {
  for (const tear of ['truncate', 'half header'] as const) {
    const dir = tempDir();
    const j = open(dir);
    for (let i = 1; i <= 3; i++) j.append('main', 's', i, `{"i":${i}}`);
    const file = join(dir, 'main', '00000001.seg');
    const good = statSync(file).size;
    if (tear === 'truncate') truncateSync(file, good - 5);
    else appendFileSync(file, readFileSync(file).subarray(0, 20));
    const again = open(dir);
    const s = again.stats();
    assert.is(s.lost.corrupt, 1, tear);
    assert.equal(seqs(again), tear === 'truncate' ? [1, 2] : [1, 2, 3], tear);
    assert.is(statSync(file).size, tear === 'truncate' ? 2 * recordBytes('s', '{"i":1}') : good, `${tear}: the damaged tail is cut off`);
    const next = again.append('main', 's', 9, '{"after":true}');
    assert.is(next, tear === 'truncate' ? 3 : 4, 'numbering goes on after the last whole record');
    again.close();
    const third = open(dir);
    assert.is(third.stats().lost.corrupt, 0, `${tear}: nothing left to count`);
    assert.equal(all(third).map((r) => r.body).slice(-1), ['{"after":true}']);
    third.close();
  }
});

test('a damaged record in the middle is skipped and counted; the records after it still read', () => {
  for (const where of ['body', 'header seq']) {
    const dir = tempDir();
    const j = open(dir);
    for (let i = 1; i <= 4; i++) j.append('logs', 'l', i, `{"i":${i}}`);
    j.close();
    const file = join(dir, 'logs', '00000001.seg');
    const bytes = readFileSync(file);
    const second = recordBytes('l', '{"i":1}');
    const at = where === 'body' ? second + RECORD_HEADER_BYTES + 1 + 3 : second + 12;
    bytes[at]! ^= 0x04;
    writeFileSync(file, bytes);
    const again = open(dir);
    assert.is(again.stats().lost.corrupt, 1, where);
    assert.equal(all(again).map((r) => [r.seq, r.body]), [[1, '{"i":1}'], [3, '{"i":3}'], [4, '{"i":4}']], where);
    assert.is(again.append('main', 's', 5, '{}'), 5);
    again.close();
  }
});

test('garbage files are skipped: a .seg of noise is counted and removed, other names are left alone, a bad position is ignored', () => {
  const dir = tempDir();
  const j = open(dir);
  j.append('main', 's', 1, '{"keep":1}');
  j.append('logs', 'l', 2, '{"keep":2}');
  j.close();
  writeFileSync(join(dir, 'main', '00000007.seg'), Buffer.alloc(5000, 0x5a));
  writeFileSync(join(dir, 'logs', 'notes.txt'), 'not a segment');
  writeFileSync(join(dir, 'logs', '00000003.seg'), '');
  writeFileSync(join(dir, 'position.json'), '{"acked": "lots"');
  const again = open(dir);
  assert.equal(all(again).map((r) => r.body), ['{"keep":1}', '{"keep":2}']);
  assert.is(again.stats().lost.corrupt, 1);
  assert.not.ok(existsSync(join(dir, 'main', '00000007.seg')));
  assert.ok(existsSync(join(dir, 'logs', 'notes.txt')));
  assert.is(again.append('main', 's', 3, '{}'), 3);
  assert.equal(segments(dir, 'main'), ['00000001.seg', '00000008.seg'], 'new segments come after every name seen');
  again.close();
});

test('over maxBytes, whole segments go: the logs lane first, oldest first, then main', () => {
  const dir = tempDir();
  const body = 'x'.repeat(100 - RECORD_HEADER_BYTES - 1);
  assert.is(recordBytes('k', body), 100);
  // Two 100-byte records per segment, 1000 bytes in all.
  const j = open(dir, { maxBytes: 1000, segmentBytes: 250 });
  for (let i = 0; i < 6; i++) j.append('logs', 'k', i, body); // seqs 1-6, three logs segments
  j.ack(1);
  for (let i = 0; i < 6; i++) j.append('main', 'k', i, body); // seqs 7-12: the fifth main record tips it over
  assert.is(j.stats().lost.overflow, 1, 'the oldest logs segment went; only its unacked record counts');
  assert.equal(segments(dir, 'logs'), ['00000002.seg', '00000003.seg']);
  assert.equal(seqs(j), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  for (let i = 0; i < 5; i++) j.append('main', 'k', i, body); // seqs 13-17
  assert.equal(segments(dir, 'logs'), [], 'every logs segment went before any main one');
  assert.equal(seqs(j), [9, 10, 11, 12, 13, 14, 15, 16, 17]);
  assert.is(j.stats().lost.overflow, 7, 'logs 2-6 and main 7-8');
  assert.ok(j.stats().bytes <= 1000, `bytes ${j.stats().bytes}`);
  j.close();
  // The bound holds at open too, with a smaller limit.
  const again = open(dir, { maxBytes: 500, segmentBytes: 250 });
  assert.equal(seqs(again), [13, 14, 15, 16, 17]);
  assert.is(again.stats().lost.overflow, 4);
  again.close();
});

test('records older than maxAgeMs expire with their segment, counted exactly, on append and at open', () => {
  const dir = tempDir();
  let t = 0;
  // segmentBytes 1: every record in a segment of its own.
  const j = open(dir, { maxAgeMs: 1000, segmentBytes: 1, now: () => t });
  j.append('main', 's', 0, '{}');
  j.append('logs', 'l', 100, '{}');
  j.ack(1);
  t = 900;
  j.append('main', 's', 900, '{}');
  assert.is(j.stats().lost.expired, 0);
  t = 1050;
  j.append('main', 's', 1050, '{}');
  assert.equal(seqs(j), [2, 3, 4], 'the segment with seq 1 is gone, but 1 was acked');
  t = 1200;
  j.append('main', 's', 1200, '{}');
  assert.equal(seqs(j), [3, 4, 5]);
  assert.is(j.stats().lost.expired, 1, 'seq 2 (ts 100) expired');
  assert.equal(segments(dir, 'logs'), []);
  j.close();
  t = 2000;
  const again = open(dir, { maxAgeMs: 1000, now: () => t });
  assert.equal(seqs(again), [4, 5], 'seq 3 (ts 900) expired at open');
  assert.is(again.stats().lost.expired, 1);
  assert.is(again.append('main', 's', 2000, '{}'), 6);
  again.close();
});

test('rebase when the hub is ahead renumbers pending records after it, and that survives a reopen and a crash', () => {
  const dir = tempDir();
  const j = open(dir);
  for (let i = 1; i <= 4; i++) j.append(i === 3 ? 'logs' : 'main', 'k', i, `{"i":${i}}`);
  j.ack(1);
  j.rebase(100);
  assert.equal(all(j).map((r) => [r.seq, r.body]), [[101, '{"i":2}'], [102, '{"i":3}'], [103, '{"i":4}']]);
  const s = j.stats();
  assert.equal([s.nextSeq, s.ackedSeq, s.durableSeq, s.pending, s.lost.renumbered], [104, 100, 103, 3, 3]);
  assert.is(j.append('logs', 'k', 5, '{"i":5}'), 104);
  // No close: the renumbering was saved before rebase returned.
  const crashed = open(dir);
  assert.equal(all(crashed).map((r) => [r.seq, r.lane, r.body]), [[101, 'main', '{"i":2}'], [102, 'logs', '{"i":3}'], [103, 'main', '{"i":4}'], [104, 'logs', '{"i":5}']]);
  assert.is(crashed.stats().lost.renumbered, 0, 'renumbering is counted once, when it happens');
  // A second jump composes with the first.
  crashed.ack(101);
  crashed.rebase(1000);
  assert.equal(seqs(crashed), [1001, 1002, 1003]);
  assert.is(crashed.append('main', 'k', 6, '{"i":6}'), 1004);
  crashed.close();
  const again = open(dir);
  assert.equal(all(again).map((r) => [r.seq, r.body]), [[1001, '{"i":3}'], [1002, '{"i":4}'], [1003, '{"i":5}'], [1004, '{"i":6}']]);
  assert.is(again.append('main', 'k', 7, '{}'), 1005);
  again.close();
});

test('rebase when the hub is behind or level only acks', () => {
  const dir = tempDir();
  const j = open(dir);
  for (let i = 1; i <= 4; i++) j.append('main', 'k', i, '{}');
  j.rebase(2);
  assert.equal(seqs(j), [3, 4]);
  j.rebase(4);
  assert.equal(seqs(j), []);
  assert.is(j.stats().lost.renumbered, 0);
  assert.is(j.append('main', 'k', 5, '{}'), 5);
  j.ack(5);
  // Ahead with nothing pending: only the counter moves, and stays moved.
  j.rebase(50);
  assert.is(j.append('main', 'k', 6, '{}'), 51);
  assert.is(j.stats().lost.renumbered, 0);
  j.close();
  const again = open(dir);
  assert.is(again.append('main', 'k', 7, '{}'), 52);
  again.close();
});

test('a lane the disk refuses is held in memory, sent, and written once the disk takes it again', () => {
  const dir = tempDir();
  const j = open(dir, { syncEveryMs: 60_000 });
  j.append('main', 's', 1, '{"m":1}');
  // A file where the lane directory should be: opening a segment fails even for root.
  writeFileSync(join(dir, 'logs'), 'in the way');
  assert.is(j.append('logs', 'l', 2, '{"l":2}'), 2, 'no throw');
  const s = j.stats();
  assert.equal([s.held, s.pending, s.durableSeq], [1, 2, 2]);
  assert.ok(s.lastError === 'EEXIST' || s.lastError === 'ENOTDIR', String(s.lastError));
  assert.equal(all(j).map((r) => [r.seq, r.lane, r.body]), [[1, 'main', '{"m":1}'], [2, 'logs', '{"l":2}']], 'held records are sent like durable ones');
  rmSync(join(dir, 'logs'));
  j.append('logs', 'l', 3, '{"l":3}');
  assert.is(j.stats().held, 0);
  j.close();
  const again = open(dir);
  assert.equal(all(again).map((r) => [r.seq, r.body]), [[1, '{"m":1}'], [2, '{"l":2}'], [3, '{"l":3}']]);
  again.close();
});

test('a write cut short (file size limit, EFBIG) is cut back to the last whole record and the journal goes on in a new segment', () => {
  const dir = tempDir();
  const script = join(tempDir(), 'writer.mjs');
  writeFileSync(script, `
    import { openJournal } from ${JSON.stringify(pathToFileURL(JOURNAL_MODULE).href)};
    const j = openJournal({ dir: process.argv[2], now: () => 5000 });
    for (let i = 1; i <= 20; i++) j.append('main', 'k', i, JSON.stringify({ i, pad: 'x'.repeat(250) }));
    j.sync();
    const s = j.stats();
    j.close();
    process.stdout.write(JSON.stringify(s));
  `);
  // ulimit -f is in 512- or 1024-byte blocks depending on the shell: a 1-2 KiB cap per file either way. Node ignores SIGXFSZ.
  const out = execFileSync('sh', ['-c', 'ulimit -f 2 && exec "$0" "$@"', process.execPath, script, dir]).toString();
  const s = JSON.parse(out) as ReturnType<Journal['stats']>;
  assert.is(s.lastError, 'EFBIG');
  assert.is(s.pending, 20);
  assert.is(s.durableSeq, 20);
  const files = segments(dir, 'main');
  assert.ok(files.length >= 5, `the journal moved on to new segments (${files.length})`);
  for (const f of files) assert.ok(statSync(join(dir, 'main', f)).size <= 2048, f);
  const j = open(dir);
  assert.is(j.stats().lost.corrupt, 0, 'no partial record was left behind');
  assert.equal(all(j).map((r) => (JSON.parse(r.body) as { i: number }).i), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.equal(seqs(j), Array.from({ length: 20 }, (_, i) => i + 1));
  j.close();
});

test('the memory spill is bounded, and what does not fit is counted', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'logs'), 'in the way');
  const j = open(dir);
  for (let i = 0; i <= MAX_HELD_RECORDS; i++) j.append('logs', 'l', i, '{}');
  const s = j.stats();
  assert.equal([s.held, s.lost.unwritten, s.pending], [MAX_HELD_RECORDS, 1, MAX_HELD_RECORDS]);
  assert.is(all(j)[0]!.seq, 2, 'the oldest went');
  j.close();
});

test('close syncs and stops: later appends throw a typed error', () => {
  const dir = tempDir();
  const j = open(dir, { syncEveryMs: 60_000 });
  j.append('main', 's', 1, '{}');
  j.append('main', 's', 2, '{}');
  assert.is(j.durableSeq(), 1);
  j.close();
  assert.is(j.durableSeq(), 2);
  try {
    j.append('main', 's', 3, '{}');
    assert.unreachable('append after close');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'MUSTER_ERR_JOURNAL_CLOSED');
  }
  assert.equal(seqs(j), [1, 2], 'reading still works');
  j.close();
});

test('a writer killed with SIGKILL right after append and sync leaves a journal that reopens with its records', async () => {
  const dir = tempDir();
  const script = join(tempDir(), 'writer.mjs');
  writeFileSync(script, `
    import { openJournal } from ${JSON.stringify(pathToFileURL(JOURNAL_MODULE).href)};
    const j = openJournal({ dir: process.argv[2], syncEveryMs: 60000, now: () => 5000 });
    for (let i = 1; i <= 5; i++) j.append(i % 2 ? 'main' : 'logs', 'k', 1000 + i, JSON.stringify({ i }));
    j.sync();
    j.append('main', 'k', 2000, '{"late":true}');
    process.stdout.write('ready ' + j.durableSeq() + '\\n');
    setInterval(() => {}, 1000);
  `);
  const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
  });
  assert.is(line, 'ready 5');
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  child.kill('SIGKILL');
  assert.is(await exited, 'SIGKILL');
  const j = open(dir);
  // A SIGKILL, unlike a power cut, keeps what was written but not yet synced (the 6th).
  assert.equal(all(j).map((r) => [r.seq, r.lane, r.ts, r.body]), [
    [1, 'main', 1001, '{"i":1}'], [2, 'logs', 1002, '{"i":2}'], [3, 'main', 1003, '{"i":3}'],
    [4, 'logs', 1004, '{"i":4}'], [5, 'main', 1005, '{"i":5}'], [6, 'main', 2000, '{"late":true}'],
  ]);
  assert.is(j.append('logs', 'k', 3000, '{}'), 7);
  j.close();
});

test('the journal runs on Node 18 when bundled as the agent is', async () => {
  if (!existsSync(NODE18)) {
    process.stdout.write('\nMUSTER-SKIP: Node 18 is not available (run install/test-host.sh to fetch it into .cache/node18); this test did not run\n');
    return;
  }
  const work = tempDir();
  const entry = join(work, 'entry.ts');
  writeFileSync(entry, `
    import { openJournal } from ${JSON.stringify(JOURNAL_MODULE)};
    const dir = process.argv[2]!;
    const j = openJournal({ dir, syncEveryMs: 1000, segmentBytes: 100, now: () => 5000 });
    for (let i = 0; i < 5; i++) j.append(i % 2 ? 'logs' : 'main', 'k', i, JSON.stringify({ i }));
    j.sync();
    j.ack(2);
    j.rebase(40);
    j.close();
    const again = openJournal({ dir, now: () => 5000 });
    console.log(JSON.stringify({ node: process.version, seqs: again.pendingAfter(0, 100).map((r) => r.seq), next: again.append('main', 'k', 9, '{}') }));
    again.close();
  `);
  const outfile = join(work, 'bundle.cjs');
  await build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', target: 'node18', format: 'cjs', logLevel: 'warning' });
  const out = JSON.parse(execFileSync(NODE18, [outfile, join(work, 'journal')]).toString()) as { node: string; seqs: number[]; next: number };
  assert.match(out.node, /^v18\./);
  assert.equal(out.seqs, [41, 42, 43]);
  assert.is(out.next, 44);
});

test.run();
