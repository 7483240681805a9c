/**
 * Pushes the hub's stored log lines to one Loki (`--loki URL`), in order,
 * from a cursor kept in the database: the recent-log store is the spool, so
 * while Loki is down lines wait on the hub's disk (bounded by the store) and
 * nothing is held twice in memory.
 *
 * Batches close at `batchBytes` of lines or `batchWaitMs` after lines came,
 * as promtail's do, but at 256 KiB rather than its 1 MiB: a batch is built
 * on the hub's one thread, and agents' acks due meanwhile wait (bench/logs.ts:
 * at 20,000 lines/s the samples' p99 ack went from 319 to 140 ms). So it is
 * built in pieces with a turn of the event loop between them (rows read 500
 * at a time, snappy 64 KiB at a time) and the protobuf written into one
 * buffer (bench/README.md, "Logs", has the figures). A 429 or 5xx, or no
 * answer, is retried with capped exponential backoff and jitter, never
 * sooner than Retry-After says.
 * Any other 4xx means Loki will never take that batch: the first such answer
 * of each kind is logged with Loki's own message, the batch is dropped and
 * counted, and pushing goes on — never retried forever.
 *
 * Lines of one stream go out in time order. Loki (with ordered writes, or
 * past its out-of-order window) refuses a line older than one it has for the
 * stream; a line that arrives after newer ones of its stream were pushed (a
 * node whose clock stepped back) is sent at the newest time pushed, as
 * Vector's `rewrite_timestamp` does, and counted.
 */
import type { Logger } from '../agent-gateway.ts';
import type { LogStore, StoredLine } from './log-store.ts';
import type { LogMetrics } from './log-metrics.ts';
import { jsonPush, protobufPushSliced, type PushBody, type PushEntry, type PushStream } from './loki-push.ts';

/** Where one Loki is and how to talk to it. */
export interface LokiTarget {
  /** Base URL (`http://loki:3100`) or the push URL itself. */
  url: string;
  /** X-Scope-OrgID, for a multi-tenant Loki. */
  tenant?: string;
  basicAuth?: { user: string; password: string };
  bearerToken?: string;
  /** protobuf+snappy (default, as promtail) or json. */
  encoding?: 'protobuf' | 'json';
}

export interface LokiPusherOptions {
  /** Bytes of lines per push at most (default 256 KiB). */
  batchBytes?: number;
  /** How long lines wait for more to fill a push (default 1 s). */
  batchWaitMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Longest a Retry-After is honoured (default 1 h). */
  maxRetryAfterMs?: number;
  timeoutMs?: number;
}

/** The defaults of LokiPusherOptions. */
export const LOKI_PUSH_DEFAULTS = Object.freeze({
  batchBytes: 256 * 1024,
  batchWaitMs: 1_000,
  minBackoffMs: 500,
  maxBackoffMs: 5 * 60_000,
  maxRetryAfterMs: 3_600_000,
  timeoutMs: 10_000,
});

/** What a push answered: the status, Retry-After, and the body's text. */
export interface PushAnswer {
  status: number;
  retryAfter: string | null;
  text: string;
}

export interface LokiPusherDeps {
  store: Pick<LogStore, 'readAfter' | 'cursor' | 'setCursor' | 'onStored' | 'onEvict' | 'countAfter' | 'lastId'>;
  /** A node's name by id (the stored labels carry it; this is for the log only). */
  now: () => number;
  log: Logger;
  metrics: LogMetrics;
  /** Sends one push (default: fetch). */
  send?: (url: string, body: PushBody, headers: Record<string, string>, timeoutMs: number) => Promise<PushAnswer>;
  random?: () => number;
  /** Lets the event loop turn between the pieces of a push (default: setImmediate). */
  pause?: () => Promise<void>;
}

/** One target's pusher. */
export interface LokiPusher {
  /** The target as metrics and logs name it (its URL without credentials). */
  readonly name: string;
  start(): void;
  /** Pushes what is stored now without waiting for the batch timer (tests, shutdown). */
  kick(): void;
  /** Lines not pushed yet. */
  spooled(): { lines: number; bytes: number };
  /** Resolves once every line stored before the call is pushed or dropped (tests, benches). */
  drained(): Promise<void>;
  close(): Promise<void>;
}

/** The push URL of a target: `/loki/api/v1/push` under its base, unless it names a path of its own. */
export function pushUrl(url: string): string {
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/loki/api/v1/push';
  return u.toString();
}

/** How long a Retry-After asks to wait: seconds, or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const defaultSend: NonNullable<LokiPusherDeps['send']> = async (url, body, headers, timeoutMs) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': body.contentType, ...(body.contentEncoding ? { 'content-encoding': body.contentEncoding } : {}) },
    body: body.body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text().catch(() => '');
  return { status: res.status, retryAfter: res.headers.get('retry-after'), text };
};

/** Rows read from the store at a time: a push of 256 KiB takes about 2,000 lines of 130 bytes. */
const READ_PAGE = 500;

const nextTurn = () => new Promise<void>((resolve) => { setImmediate(resolve); });

/** Structured metadata of a line: what is too varied for a label. */
function metaOf(l: StoredLine): [string, string][] {
  const m: [string, string][] = [];
  if (l.containerId) m.push(['container_id', l.containerId]);
  if (l.image) m.push(['image', l.image]);
  if (l.kind === 'docker') m.push(['stream', l.stderr ? 'stderr' : 'stdout']);
  if (l.pid !== null) m.push(['pid', String(l.pid)]);
  return m;
}

/** Creates the pusher for one target; nothing is sent until start(). */
export function createLokiPusher(deps: LokiPusherDeps, target: LokiTarget, opts: LokiPusherOptions = {}): LokiPusher {
  const { store, log, metrics, now } = deps;
  const send = deps.send ?? defaultSend;
  const random = deps.random ?? Math.random;
  const batchBytes = opts.batchBytes ?? LOKI_PUSH_DEFAULTS.batchBytes;
  const batchWaitMs = opts.batchWaitMs ?? LOKI_PUSH_DEFAULTS.batchWaitMs;
  const minBackoff = opts.minBackoffMs ?? LOKI_PUSH_DEFAULTS.minBackoffMs;
  const maxBackoff = opts.maxBackoffMs ?? LOKI_PUSH_DEFAULTS.maxBackoffMs;
  const maxRetryAfter = opts.maxRetryAfterMs ?? LOKI_PUSH_DEFAULTS.maxRetryAfterMs;
  const timeoutMs = opts.timeoutMs ?? LOKI_PUSH_DEFAULTS.timeoutMs;
  const url = pushUrl(target.url);
  const shown = new URL(url);
  shown.username = '';
  shown.password = '';
  const name = shown.toString() + (target.tenant ? `#${target.tenant}` : '');
  const headers: Record<string, string> = { 'user-agent': 'muster-hub' };
  if (target.tenant) headers['x-scope-orgid'] = target.tenant;
  if (target.basicAuth) headers['authorization'] = `Basic ${Buffer.from(`${target.basicAuth.user}:${target.basicAuth.password}`).toString('base64')}`;
  else if (target.bearerToken) headers['authorization'] = `Bearer ${target.bearerToken}`;
  const pause = deps.pause ?? nextTurn;
  const encode = target.encoding === 'json' ? async (streams: PushStream[]) => jsonPush(streams) : (streams: PushStream[]) => protobufPushSliced(streams, pause);

  let cursor = store.cursor(name);
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let started = false;
  let closed = false;
  let backoff = minBackoff;
  /** The newest time pushed per stream, so no line of a stream goes out older than one before it. */
  const newest = new Map<string, [number, number]>();
  let rewritten = 0;
  const seenRejections = new Set<string>();
  let waiters: { upto: number; resolve: () => void }[] = [];
  let loop: Promise<void> = Promise.resolve();

  const settleWaiters = () => {
    const left: typeof waiters = [];
    for (const w of waiters) (cursor >= w.upto || closed ? w.resolve() : left.push(w));
    waiters = left;
  };

  const advance = (to: number) => {
    if (to <= cursor) return;
    cursor = to;
    store.setCursor(name, cursor);
    settleWaiters();
  };

  const dropEvict = store.onEvict((upto) => {
    if (upto <= cursor) return;
    const before = store.countAfter(cursor);
    const after = store.countAfter(upto);
    const lines = before.lines - after.lines;
    if (lines > 0) {
      log.warn({ target: name, lines }, 'log lines pruned from the hub\'s store before Loki took them (Loki down too long, or the store too small)');
      metrics.dropped('loki_spool_full', name, lines, before.bytes - after.bytes);
    }
    advance(upto);
  });

  /**
   * The next batch after the cursor: whole streams in time order, at most
   * `batchBytes` of lines. Rows are read a page at a time, with a turn of
   * the event loop between pages: acks due meanwhile go out.
   */
  const nextBatch = async (): Promise<{ streams: PushStream[]; lastId: number; lines: number; bytes: number } | undefined> => {
    const byStream = new Map<string, PushStream>();
    let bytes = 0;
    let lastId = cursor;
    let count = 0;
    for (let full = false; !full && !closed;) {
      if (count > 0) await pause();
      const rows = store.readAfter(lastId, READ_PAGE);
      for (const r of rows) {
        const size = Buffer.byteLength(r.line, 'utf8');
        if (count > 0 && bytes + size > batchBytes) { full = true; break; }
        let s = byStream.get(r.labels);
        if (!s) byStream.set(r.labels, (s = { labels: parseLabelText(r.labels), labelText: r.labels, entries: [] }));
        s.entries.push({ ts: r.ts, ns: r.ns, line: r.line, meta: metaOf(r) });
        bytes += size;
        lastId = r.id;
        count++;
      }
      if (rows.length < READ_PAGE) break;
    }
    if (count === 0) return undefined;
    const streams = [...byStream.values()];
    for (const s of streams) {
      s.entries.sort((a, b) => a.ts - b.ts || a.ns - b.ns);
      const floor = newest.get(s.labelText);
      if (floor) {
        for (const e of s.entries) {
          if (e.ts < floor[0] || (e.ts === floor[0] && e.ns < floor[1])) {
            e.ts = floor[0];
            e.ns = floor[1];
            rewritten++;
          }
        }
      }
    }
    return { streams, lastId, lines: count, bytes };
  };

  const remember = (streams: PushStream[]) => {
    if (newest.size > 100_000) newest.clear();
    for (const s of streams) {
      const e: PushEntry = s.entries[s.entries.length - 1]!;
      newest.set(s.labelText, [e.ts, e.ns]);
    }
  };

  const sleep = (ms: number) => new Promise<void>((resolve) => {
    timer = setTimeout(() => { timer = undefined; resolve(); }, ms);
    timer.unref();
  });

  /** Pushes until nothing is left after the cursor; one run at a time. */
  async function pushAll(): Promise<void> {
    while (!closed) {
      const batch = await nextBatch();
      if (!batch || closed) return;
      const body = await encode(batch.streams);
      let answer: PushAnswer | undefined;
      let error: string | undefined;
      try {
        answer = await send(url, body, headers, timeoutMs);
      } catch (err) {
        error = (err as Error).message;
      }
      if (closed) return;
      metrics.request(name, answer ? String(answer.status) : 'error');
      if (answer && answer.status >= 200 && answer.status < 300) {
        remember(batch.streams);
        metrics.pushed(name, batch.lines, batch.bytes);
        backoff = minBackoff;
        advance(batch.lastId);
        continue;
      }
      if (answer && answer.status >= 400 && answer.status < 500 && answer.status !== 429) {
        const message = answer.text.trim().slice(0, 500);
        const kind = `${answer.status} ${message.replace(/'[^']*'/g, "'…'").slice(0, 120)}`;
        if (!seenRejections.has(kind)) {
          seenRejections.add(kind);
          log.error({ target: name, status: answer.status, loki: message, lines: batch.lines }, 'Loki refused a batch of log lines; it is dropped (further refusals like this one are counted, not logged)');
        }
        metrics.dropped('loki_rejected', name, batch.lines, batch.bytes);
        // Loki may have taken the batch's good lines; the rest will never fit. Either way, on to the next.
        remember(batch.streams);
        advance(batch.lastId);
        continue;
      }
      const asked = answer ? retryAfterMs(answer.retryAfter, now()) : undefined;
      const jittered = backoff / 2 + random() * (backoff / 2);
      const wait = Math.max(jittered, Math.min(asked ?? 0, maxRetryAfter));
      if (backoff === minBackoff) log.warn({ target: name, status: answer?.status, err: error, retryInMs: Math.round(wait) }, 'Loki does not take log lines now; they wait in the hub\'s store');
      backoff = Math.min(maxBackoff, backoff * 2);
      await sleep(wait);
    }
  }

  const run = () => {
    if (running || closed || !started) return;
    clearTimeout(timer);
    timer = undefined;
    running = true;
    loop = pushAll().catch((err: Error) => log.error({ err, target: name }, 'pushing logs to Loki failed')).finally(() => {
      running = false;
      settleWaiters();
      if (!closed && store.lastId() > cursor) schedule();
    });
  };

  const schedule = () => {
    if (running || timer || closed) return;
    const behind = store.countAfter(cursor);
    if (behind.bytes >= batchBytes) {
      queueMicrotask(run);
      return;
    }
    timer = setTimeout(() => { timer = undefined; run(); }, batchWaitMs);
    timer.unref();
  };

  const dropStored = store.onStored(schedule);
  metrics.spool(name, () => store.countAfter(cursor));

  return {
    name,
    start() {
      started = true;
      if (store.lastId() > cursor) schedule();
    },
    kick: run,
    spooled: () => store.countAfter(cursor),
    drained() {
      const upto = store.lastId();
      if (cursor >= upto) return Promise.resolve();
      return new Promise<void>((resolve) => { waiters.push({ upto, resolve }); });
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      dropStored();
      dropEvict();
      settleWaiters();
      await loop;
      if (rewritten > 0) log.info({ target: name, rewritten }, 'log lines sent at their stream\'s newest time (they came after newer ones)');
    },
  };
}

/** Parses the label text the store keeps (`{a="x", b="y"}`, as labelString writes it). */
export function parseLabelText(text: string): [string, string][] {
  const out: [string, string][] = [];
  const re = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push([m[1]!, m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))]);
  }
  return out;
}
