/**
 * The agent's log collection, piece by piece: Docker's stream framing (as
 * the Engine sends it, cut at every byte), journalctl's JSON, levels, and
 * the collector's limits, redaction, batching and positions.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDockerLogParser, dockerSince, parseDockerTimestamp, type DockerLogLine } from '../../agent/logs/docker-log-stream.ts';
import { journalctlArgs, parseJournalEntry } from '../../agent/logs/journal-logs.ts';
import { lineLevel, priorityLevel } from '../../agent/logs/levels.ts';
import { createLogCollector } from '../../agent/logs/collector.ts';
import type { DockerLogsDeps } from '../../agent/logs/docker-logs.ts';
import type { JournalSourceDeps } from '../../agent/logs/journal-logs.ts';
import { CUT_MARKER, type UnsequencedLogs } from '../../protocol/index.ts';
import type { DockerClient } from '../../agent/docker-client.ts';
import { tempDir } from '../helpers/processes.ts';

const frame = (kind: number, text: string) => {
  const payload = Buffer.from(text, 'utf8');
  const head = Buffer.alloc(8);
  head[0] = kind;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
};

test('Docker timestamps keep nanoseconds, and since= gives them back', () => {
  const t = parseDockerTimestamp('2026-12-02T01:02:03.123456789Z hello')!;
  assert.is(t.ms, Date.parse('2026-12-02T01:02:03.123Z'));
  assert.is(t.ns, 456789);
  assert.is('2026-12-02T01:02:03.123456789Z hello'.slice(t.rest), 'hello');
  assert.is(dockerSince(t.ms, t.ns), `${Math.floor(t.ms / 1000)}.123456789`);
  const trimmed = parseDockerTimestamp('2026-12-02T01:02:03.1Z x')!;
  assert.is(trimmed.ms % 1000, 100);
  assert.is(parseDockerTimestamp('2026-12-02T01:02:03Z x')!.ns, 0);
  assert.is(parseDockerTimestamp('not a time'), undefined);
});

test('a multiplexed stream cut at every byte gives whole lines, stdout and stderr apart, partial messages joined', () => {
  const stream = Buffer.concat([
    frame(1, '2026-12-02T01:02:03.000000001Z first\n'),
    frame(2, '2026-12-02T01:02:03.000000002Z oops\n'),
    frame(1, '2026-12-02T01:02:03.000000003Z a long line, part one,'),
    frame(1, '2026-12-02T01:02:03.000000004Z  and part two\n'),
    frame(1, '2026-12-02T01:02:03.000000005Z ünïcödé ✓\n'),
  ]);
  const lines: DockerLogLine[] = [];
  const p = createDockerLogParser(false, 1000, (l) => lines.push(l));
  for (let i = 0; i < stream.length; i++) p.push(stream.subarray(i, i + 1));
  p.end();
  assert.equal(lines.map((l) => [l.text, l.stderr, l.ns]), [
    ['first', false, 1], ['oops', true, 2], ['a long line, part one, and part two', false, 3], ['ünïcödé ✓', false, 5],
  ]);
});

test('a line past the limit is cut once, and a TTY stream drops its \\r', () => {
  const lines: DockerLogLine[] = [];
  const p = createDockerLogParser(false, 10, (l) => lines.push(l));
  p.push(frame(1, '2026-12-02T01:02:03Z 0123456789abcdef'));
  p.push(frame(1, '2026-12-02T01:02:03Z ghijkl\n'));
  p.push(frame(1, '2026-12-02T01:02:04Z short\n'));
  assert.equal(lines.map((l) => [l.text, l.cut]), [['0123456789', true], ['short', false]]);
  const tty: DockerLogLine[] = [];
  const t = createDockerLogParser(true, 100, (l) => tty.push(l));
  t.push(Buffer.from('2026-12-02T01:02:03.5Z top - 01:02\r\n2026-12-02T01:02:04Z second\r'));
  t.push(Buffer.from('\n2026-12-02T01:02:05Z unfinished'));
  t.end();
  assert.equal(tty.map((l) => l.text), ['top - 01:02', 'second', 'unfinished']);
});

test('journalctl -o json: unit, priority and PID; byte-array messages; container lines left to Docker', () => {
  const e = parseJournalEntry(JSON.stringify({
    __CURSOR: 's=abc;i=1', __REALTIME_TIMESTAMP: '1764637323123456', MESSAGE: 'Started nginx', PRIORITY: '6', _PID: '812',
    _SYSTEMD_UNIT: 'nginx.service', SYSLOG_IDENTIFIER: 'nginx',
  }))!;
  assert.equal(e, { ms: 1764637323123, ns: 456000, text: 'Started nginx', ident: 'nginx', cursor: 's=abc;i=1', unit: 'nginx.service', priority: 6, pid: 812 });
  const bytes = parseJournalEntry(JSON.stringify({ __CURSOR: 'c', __REALTIME_TIMESTAMP: '1000000', MESSAGE: [104, 105, 0xff], _TRANSPORT: 'kernel' }))!;
  assert.is(bytes.text, 'hi\uFFFD');
  assert.is(bytes.ident, 'kernel');
  assert.not.ok('unit' in bytes);
  assert.is(parseJournalEntry(JSON.stringify({ __CURSOR: 'c', __REALTIME_TIMESTAMP: '1', MESSAGE: 'x', CONTAINER_ID: 'abc' })), undefined);
  assert.is(parseJournalEntry('{not json'), undefined);
  assert.ok(journalctlArgs({ cursor: 's=1' }).includes('--after-cursor=s=1'));
  assert.ok(journalctlArgs({ sinceMs: 1_700_000_000_500 }).includes('--since=@1700000000'));
  assert.ok(journalctlArgs({ cursor: 's' }).includes('--follow'));
});

test('levels: the journal\'s priority, else what the line says of itself at its start', () => {
  assert.is(priorityLevel(3), 'error');
  assert.is(priorityLevel(4), 'warn');
  assert.is(priorityLevel(7), 'debug');
  assert.is(lineLevel('level=warn msg="disk almost full"'), 'warn');
  assert.is(lineLevel('{"ts":1,"level":"error","msg":"boom"}'), 'error');
  assert.is(lineLevel('2026-12-02 01:02:03 INFO starting'), 'info');
  assert.is(lineLevel('[ERROR] cannot bind'), 'error');
  assert.is(lineLevel('W1202 01:02:03 something'), undefined);
  assert.is(lineLevel('Error reading config is a sentence, not a level'), undefined);
  assert.is(lineLevel('retrying after an error'), undefined);
});

/** A collector over fake sources: `docker` and `journal` push lines as the real ones do. */
function collector(opts: Omit<Parameters<typeof createLogCollector>[1], 'stateDir'> = {}) {
  const stateDir = tempDir('logcoll');
  let dockerDeps: DockerLogsDeps | undefined;
  let journalDeps: JournalSourceDeps | undefined;
  let t = 1_764_637_323_000;
  const c = createLogCollector({
    docker: {} as DockerClient, now: () => t, log: { debug() {}, info() {}, warn() {}, error() {} },
    startDocker: (d) => { dockerDeps = d; return { following: () => [], close() {} }; },
    startJournal: (d) => { journalDeps = d; return { close() {} }; },
  }, { stateDir, flushMs: 60_000, ...opts });
  const shipped: UnsequencedLogs[] = [];
  c.start((r) => { shipped.push(r); return shipped.length; });
  const container = { id: 'c1'.padEnd(64, '0'), name: 'web-1', image: 'nginx', tty: false, compose: 'web' };
  let n = 0;
  const dockerLine = (text: string) => {
    n++;
    dockerDeps!.onLine(container, { ms: t, ns: n, stderr: false, text, cut: false }, { ms: t, ns: n, n: 1 });
  };
  return { c, shipped, stateDir, dockerLine, journal: () => journalDeps!, docker: () => dockerDeps!, tick: (ms: number) => { t += ms; }, flush: async () => { await c.close(); } };
}

test('the collector redacts, cuts and batches; positions move only when the journal says the batch is durable', async () => {
  const h = collector({ maxLine: 300 });
  h.dockerLine('connecting to postgres://app:hunter2@db:5432/app');
  h.dockerLine('x'.repeat(400));
  h.journal().onLine({ ms: 1_764_637_323_000, ns: 0, text: 'started', ident: 'nginx', unit: 'nginx.service', priority: 6, pid: 7, cursor: 'cur-1' });
  await h.flush();
  assert.is(h.shipped.length, 1);
  const b = h.shipped[0]!;
  assert.equal(b.src.map((s) => s.name), ['web-1', 'nginx.service']);
  assert.not.match(b.lines[0]!.l, /hunter2/);
  assert.ok(b.lines[1]!.l.endsWith(CUT_MARKER));
  assert.is(b.lines[1]!.l.length, 300 + CUT_MARKER.length);
  assert.equal(b.drops, { rateLimited: 0, rateLimitedBytes: 0, cut: 1 });
  assert.equal({ p: b.lines[2]!.p, pid: b.lines[2]!.pid, v: b.lines[2]!.v }, { p: 6, pid: 7, v: 'info' });
  const file = join(h.stateDir, 'logs-position.json');
  const before = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(before.docker, {}, 'nothing saved before the journal fsyncs the batch');
  assert.not.ok(before.journal);
  h.c.durable(1);
  const after = JSON.parse(readFileSync(file, 'utf8'));
  assert.is(after.journal, 'cur-1');
  assert.equal(Object.values(after.docker), [{ ms: 1_764_637_323_000, ns: 2, n: 1 }]);
});

test('a batch the journal fsyncs inside ship() has its positions saved at once, not at the next fsync', async () => {
  const stateDir = tempDir('logcoll');
  let journalDeps: JournalSourceDeps | undefined;
  const c = createLogCollector({
    now: () => 1_764_637_323_000, log: { debug() {}, info() {}, warn() {}, error() {} },
    startJournal: (d) => { journalDeps = d; return { close() {} }; },
  }, { stateDir, flushMs: 60_000, docker: false });
  const saved = () => JSON.parse(readFileSync(join(stateDir, 'logs-position.json'), 'utf8')).journal as string | undefined;
  let seq = 0;
  let persisted = 0;
  // As the journal does when its last fsync is a second old: append fsyncs at once and reports durable from inside.
  let inline = true;
  c.start(() => { seq++; if (inline) c.durable(seq); return seq; }, () => { persisted++; c.durable(seq); });
  const line = (cursor: string) => journalDeps!.onLine({ ms: 1_764_637_323_000, ns: 0, text: 'x', ident: 'a', unit: 'a.service', cursor });
  line('cur-1');
  await c.close();
  assert.is(saved(), 'cur-1', 'saved with the batch, though durable() came before its positions were known');
  assert.is(persisted, 0, 'no second fsync for a batch already durable');
  // A journal that fsyncs later: the collector asks for it now.
  const c2 = createLogCollector({
    now: () => 1_764_637_323_000, log: { debug() {}, info() {}, warn() {}, error() {} },
    startJournal: (d) => { journalDeps = d; return { close() {} }; },
  }, { stateDir, flushMs: 60_000, docker: false });
  inline = false;
  c2.start(() => ++seq, () => { persisted++; c2.durable(seq); });
  line('cur-2');
  await c2.close();
  assert.is(persisted, 1);
  assert.is(saved(), 'cur-2');
});

test('a flooding source is held to its rate; what it drops is counted and reported', async () => {
  const h = collector({ rate: { linesPerSecond: 10, burstLines: 20 } });
  for (let i = 0; i < 100; i++) h.dockerLine(`line ${i}`);
  h.tick(1000);
  for (let i = 0; i < 100; i++) h.dockerLine(`more ${i}`);
  await h.flush();
  const lines = h.shipped.flatMap((b) => b.lines);
  assert.is(lines.length, 30, '20 of burst, then 10 a second');
  const drops = h.shipped.reduce((a, b) => a + (b.drops?.rateLimited ?? 0), 0);
  assert.is(drops, 170);
  assert.is(h.c.stats().rateLimited, 170);
});

test('--logs-exclude leaves out matching containers and units; their positions still move', async () => {
  const h = collector({ exclude: ['web-*', 'cron.service'] });
  assert.ok(h.docker().excluded!({ id: 'x', name: 'web-1', image: '', tty: false }));
  assert.not.ok(h.docker().excluded!({ id: 'y', name: 'db-1', image: '', tty: false }));
  h.journal().onLine({ ms: 1, ns: 0, text: 'tick', ident: 'CRON', unit: 'cron.service', cursor: 'c-9' });
  await h.flush();
  assert.is(h.shipped.length, 0, 'nothing to ship');
  h.c.durable(0);
  assert.is(JSON.parse(readFileSync(join(h.stateDir, 'logs-position.json'), 'utf8')).journal, 'c-9');
});

test('batches stay under the frame limit: a batch closes at its character bound', async () => {
  const h = collector({ batchChars: 10_000 });
  for (let i = 0; i < 50; i++) h.dockerLine(`${i} ${'y'.repeat(900)}`);
  await h.flush();
  assert.ok(h.shipped.length >= 5);
  for (const b of h.shipped) assert.ok(JSON.stringify(b).length < 12_000);
  assert.is(h.shipped.flatMap((b) => b.lines).length, 50);
});

test.run();
