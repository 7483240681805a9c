/**
 * A stand-in for Loki's push API (there is no Loki package in Debian), as
 * strict as the real distributor and ingester, so that what it takes real
 * Loki takes too:
 *
 * - POST /loki/api/v1/push, protobuf in a snappy block (Content-Type
 *   application/x-protobuf, or none: promtail's form) or JSON (optionally
 *   gzip'd); anything else is 415.
 * - The protobuf is decoded by its own reader here, field by field with
 *   wire types checked, not by the hub's encoder run backwards; the snappy
 *   block by the hub's decoder, which refuses bad offsets and lengths.
 * - Labels: Prometheus' `{name="value", ...}` syntax, names
 *   [a-zA-Z_][a-zA-Z0-9_]*, at least one, sorted, no name twice, at most
 *   15 (service_name, which Loki adds itself, not counted), names up to
 *   1,024 and values up to 2,048 bytes.
 * - Entries: not older than a week, not more than 10 minutes ahead, lines
 *   up to 256 KiB, structured metadata names valid label names; with
 *   ordered writes (default, Loki's `unordered_writes: false`) no entry
 *   older than the newest one accepted for its stream; an entry equal in
 *   time and text to one held is a duplicate, dropped silently.
 * - Like Loki, valid streams of a request are ingested and the request
 *   answered 400 with the first problems when any part was refused; 204
 *   when all was taken.
 * - Tests can make it answer 429 or 503 with Retry-After, 400 for a push,
 *   or go away altogether (connection refused) and come back on its port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { snappyDecompress } from '../../hub/logs/snappy.ts';

/** Loki's limits, all overridable. */
export interface LokiLimits {
  maxLabelNamesPerSeries: number;
  maxLabelNameLength: number;
  maxLabelValueLength: number;
  maxLineSize: number;
  rejectOldSamplesMaxAgeMs: number;
  creationGracePeriodMs: number;
  orderedWrites: boolean;
  /** Requests without X-Scope-OrgID get 401 (`auth_enabled: true`). */
  requireTenant: boolean;
  /** Ingestion rate per tenant in bytes a second; past it 429 (0: none). */
  ingestionRateBytes: number;
}

export const LOKI_DEFAULT_LIMITS: LokiLimits = {
  maxLabelNamesPerSeries: 15,
  maxLabelNameLength: 1024,
  maxLabelValueLength: 2048,
  maxLineSize: 256 * 1024,
  rejectOldSamplesMaxAgeMs: 7 * 86_400_000,
  creationGracePeriodMs: 10 * 60_000,
  orderedWrites: true,
  requireTenant: false,
  ingestionRateBytes: 0,
};

/** An entry as held: nanoseconds as a bigint, the line, its structured metadata. */
export interface HeldEntry {
  ns: bigint;
  line: string;
  meta: Record<string, string>;
}

/** One push as the stand-in saw it. */
export interface SeenPush {
  status: number;
  encoding: 'protobuf' | 'json' | 'other';
  tenant: string | undefined;
  authorization: string | undefined;
  entries: number;
  error?: string;
}

export interface LokiStandIn {
  url: string;
  port: number;
  /** Streams by their labels in canonical form (`{a="x", b="y"}`), entries in arrival order. */
  streams: Map<string, { labels: Record<string, string>; entries: HeldEntry[] }>;
  pushes: SeenPush[];
  /** Entries of every stream whose labels include `match`. */
  entries(match?: Record<string, string>): (HeldEntry & { labels: Record<string, string> })[];
  /** The next `n` pushes get `status` (with Retry-After when given), and nothing is ingested. */
  failNext(n: number, status: number, retryAfter?: string, body?: string): void;
  /** Stops listening: connections are refused until up(). */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

class PushError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** A minimal protobuf reader that checks wire types and bounds. */
class Reader {
  pos = 0;
  readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  get done() { return this.pos >= this.buf.length; }
  varint(): number {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      if (this.pos >= this.buf.length || shift > 63) throw new PushError(400, 'proto: bad varint');
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  }
  bytes(): Buffer {
    const n = this.varint();
    if (this.pos + n > this.buf.length) throw new PushError(400, 'proto: length runs past the end');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  /** Each field: its number, its wire type, and a reader of its value. */
  *fields(): Generator<{ no: number; wire: number }> {
    while (!this.done) {
      const key = this.varint();
      const no = Math.floor(key / 8);
      const wire = key & 7;
      if (no === 0) throw new PushError(400, 'proto: field number 0');
      yield { no, wire };
    }
  }
  skip(wire: number) {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new PushError(400, `proto: wire type ${wire} not supported`);
    if (this.pos > this.buf.length) throw new PushError(400, 'proto: field runs past the end');
  }
}

function expect(wire: number, want: number, what: string) {
  if (wire !== want) throw new PushError(400, `proto: ${what} has wire type ${wire}, not ${want}`);
}

interface RawStream { labels: string | Record<string, string>; entries: { ns: bigint; line: string; meta: [string, string][] }[] }

function decodeProtobuf(buf: Buffer): RawStream[] {
  const streams: RawStream[] = [];
  const req = new Reader(buf);
  for (const f of req.fields()) {
    if (f.no !== 1) { req.skip(f.wire); continue; }
    expect(f.wire, 2, 'PushRequest.streams');
    const s = new Reader(req.bytes());
    const stream: RawStream = { labels: '', entries: [] };
    for (const sf of s.fields()) {
      if (sf.no === 1) { expect(sf.wire, 2, 'Stream.labels'); stream.labels = s.bytes().toString('utf8'); }
      else if (sf.no === 2) {
        expect(sf.wire, 2, 'Stream.entries');
        const e = new Reader(s.bytes());
        let sec = 0;
        let nanos = 0;
        let line = '';
        const meta: [string, string][] = [];
        for (const ef of e.fields()) {
          if (ef.no === 1) {
            expect(ef.wire, 2, 'Entry.timestamp');
            const t = new Reader(e.bytes());
            for (const tf of t.fields()) {
              if (tf.no === 1) { expect(tf.wire, 0, 'Timestamp.seconds'); sec = t.varint(); }
              else if (tf.no === 2) { expect(tf.wire, 0, 'Timestamp.nanos'); nanos = t.varint(); }
              else t.skip(tf.wire);
            }
          } else if (ef.no === 2) { expect(ef.wire, 2, 'Entry.line'); line = e.bytes().toString('utf8'); }
          else if (ef.no === 3) {
            expect(ef.wire, 2, 'Entry.structuredMetadata');
            const p = new Reader(e.bytes());
            let name = '';
            let value = '';
            for (const pf of p.fields()) {
              if (pf.no === 1) { expect(pf.wire, 2, 'LabelPair.name'); name = p.bytes().toString('utf8'); }
              else if (pf.no === 2) { expect(pf.wire, 2, 'LabelPair.value'); value = p.bytes().toString('utf8'); }
              else p.skip(pf.wire);
            }
            meta.push([name, value]);
          } else e.skip(ef.wire);
        }
        if (nanos >= 1e9) throw new PushError(400, `timestamp nanos ${nanos} out of range`);
        stream.entries.push({ ns: BigInt(sec) * 1_000_000_000n + BigInt(nanos), line, meta });
      } else s.skip(sf.wire);
    }
    streams.push(stream);
  }
  return streams;
}

function decodeJson(buf: Buffer): RawStream[] {
  let body: unknown;
  try {
    body = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new PushError(400, `loghttp.PushRequest: ${(err as Error).message}`);
  }
  const streams = (body as { streams?: unknown }).streams;
  if (!Array.isArray(streams)) throw new PushError(400, 'loghttp.PushRequest.streams: not an array');
  return streams.map((s: { stream?: unknown; values?: unknown }) => {
    if (typeof s.stream !== 'object' || s.stream === null || Array.isArray(s.stream)) throw new PushError(400, 'stream: not an object');
    for (const v of Object.values(s.stream)) if (typeof v !== 'string') throw new PushError(400, 'stream: label values must be strings');
    if (!Array.isArray(s.values)) throw new PushError(400, 'values: not an array');
    return {
      labels: s.stream as Record<string, string>,
      entries: s.values.map((v: unknown) => {
        if (!Array.isArray(v) || v.length < 2 || v.length > 3 || typeof v[0] !== 'string' || !/^\d{1,19}$/.test(v[0]) || typeof v[1] !== 'string') {
          throw new PushError(400, `values: an entry must be ["<unix epoch in nanoseconds>", "<line>"(, {metadata})], not ${JSON.stringify(v).slice(0, 80)}`);
        }
        const meta = v[2] === undefined ? {} : v[2];
        if (typeof meta !== 'object' || meta === null || Array.isArray(meta) || Object.values(meta).some((x) => typeof x !== 'string')) throw new PushError(400, 'values: structured metadata must be an object of strings');
        return { ns: BigInt(v[0]), line: v[1], meta: Object.entries(meta as Record<string, string>) };
      }),
    };
  });
}

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses `{a="x", b="y"}` as Prometheus does; sorted and unique are checked by the caller. */
function parseLabels(text: string): [string, string][] {
  const t = text.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) throw new PushError(400, `error parsing labels '${text}': must be {name="value", ...}`);
  const out: [string, string][] = [];
  let i = 1;
  const end = t.length - 1;
  const ws = () => { while (i < end && /\s/.test(t[i]!)) i++; };
  ws();
  while (i < end) {
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(t.slice(i));
    if (!m) throw new PushError(400, `error parsing labels '${text}': bad label name at ${i}`);
    const name = m[0];
    i += name.length;
    ws();
    if (t[i] !== '=') throw new PushError(400, `error parsing labels '${text}': expected = after ${name}`);
    i++;
    ws();
    if (t[i] !== '"') throw new PushError(400, `error parsing labels '${text}': expected a quoted value for ${name}`);
    i++;
    let value = '';
    for (;;) {
      if (i >= end) throw new PushError(400, `error parsing labels '${text}': unterminated value of ${name}`);
      const c = t[i++]!;
      if (c === '"') break;
      if (c === '\\') {
        const e = t[i++];
        if (e === 'n') value += '\n';
        else if (e === '\\' || e === '"') value += e;
        else throw new PushError(400, `error parsing labels '${text}': bad escape \\${e}`);
      } else value += c;
    }
    out.push([name, value]);
    ws();
    if (t[i] === ',') { i++; ws(); } else if (i < end) throw new PushError(400, `error parsing labels '${text}': expected , or }`);
  }
  return out;
}

const canonical = (labels: [string, string][]) => `{${labels.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;

/** Starts the stand-in on 127.0.0.1 (a free port, or `port`). */
export async function startLokiStandIn(opts: Partial<LokiLimits> & { port?: number; now?: () => number } = {}): Promise<LokiStandIn> {
  const limits: LokiLimits = { ...LOKI_DEFAULT_LIMITS, ...opts };
  const now = opts.now ?? Date.now;
  const streams: LokiStandIn['streams'] = new Map();
  const pushes: SeenPush[] = [];
  let failures: { n: number; status: number; retryAfter?: string; body?: string } | undefined;
  let rateWindow = { at: 0, bytes: 0 };

  function ingest(raw: RawStream[]): { accepted: number; errors: string[] } {
    const errors: string[] = [];
    let accepted = 0;
    const nowNs = BigInt(now()) * 1_000_000n;
    for (const s of raw) {
      let labels: [string, string][];
      try {
        if (typeof s.labels === 'string') {
          labels = parseLabels(s.labels);
          for (let k = 1; k < labels.length; k++) {
            if (labels[k - 1]![0] === labels[k]![0]) throw new PushError(400, `stream '${s.labels}' has duplicate label name: '${labels[k]![0]}'`);
            if (labels[k - 1]![0] > labels[k]![0]) throw new PushError(400, `error parsing labels '${s.labels}': labels not sorted`);
          }
        } else {
          labels = Object.entries(s.labels).sort((a, b) => (a[0] < b[0] ? -1 : 1));
          for (const [k] of labels) if (!NAME.test(k)) throw new PushError(400, `error parsing labels: invalid label name '${k}'`);
        }
        if (labels.length === 0) throw new PushError(400, 'error at least one label pair is required per stream');
        const counted = labels.length - (labels.some(([k]) => k === 'service_name') ? 1 : 0);
        if (counted > limits.maxLabelNamesPerSeries) throw new PushError(400, `entry for stream '${canonical(labels)}' has ${counted} label names; limit ${limits.maxLabelNamesPerSeries}`);
        for (const [k, v] of labels) {
          if (Buffer.byteLength(k) > limits.maxLabelNameLength) throw new PushError(400, `stream '${canonical(labels)}' has label name too long: '${k}'`);
          if (Buffer.byteLength(v) > limits.maxLabelValueLength) throw new PushError(400, `stream '${canonical(labels)}' has label value too long: '${v}'`);
        }
      } catch (err) {
        errors.push((err as Error).message);
        continue;
      }
      const key = canonical(labels);
      let held = streams.get(key);
      for (const e of s.entries) {
        if (e.ns < nowNs - BigInt(limits.rejectOldSamplesMaxAgeMs) * 1_000_000n) { errors.push(`entry for stream '${key}' has timestamp too old: ${e.ns}`); continue; }
        if (e.ns > nowNs + BigInt(limits.creationGracePeriodMs) * 1_000_000n) { errors.push(`entry for stream '${key}' has timestamp too new: ${e.ns}`); continue; }
        if (Buffer.byteLength(e.line) > limits.maxLineSize) {
          errors.push(`Max entry size '${limits.maxLineSize}' bytes exceeded for stream '${key}' while adding an entry with length '${Buffer.byteLength(e.line)}' bytes`);
          continue;
        }
        if (e.meta.some(([k]) => !NAME.test(k))) { errors.push(`stream '${key}' has invalid structured metadata name`); continue; }
        held ??= { labels: Object.fromEntries(labels), entries: [] };
        streams.set(key, held);
        const last = held.entries[held.entries.length - 1];
        if (last && e.ns === last.ns && e.line === last.line) continue; // Loki drops an exact duplicate silently
        if (limits.orderedWrites && last && e.ns < last.ns) {
          errors.push(`entry with timestamp ${e.ns} ignored, reason: 'entry out of order' for stream: ${key}`);
          continue;
        }
        held.entries.push({ ns: e.ns, line: e.line, meta: Object.fromEntries(e.meta) });
        accepted++;
      }
    }
    return { accepted, errors };
  }

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const seen: SeenPush = {
      status: 0, encoding: 'other', tenant: req.headers['x-scope-orgid'] as string | undefined,
      authorization: req.headers.authorization, entries: 0,
    };
    pushes.push(seen);
    const answer = (status: number, text = '', headers: Record<string, string> = {}) => {
      seen.status = status;
      if (text) seen.error = text;
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      res.end(text ? `${text}\n` : undefined);
    };
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/loki/api/v1/push') return answer(404, '404 page not found');
    if (failures && failures.n > 0) {
      failures.n--;
      const f = failures;
      return answer(f.status, f.body ?? (f.status === 429 ? 'Ingestion rate limit exceeded' : 'Ingester is not ready'), f.retryAfter ? { 'retry-after': f.retryAfter } : {});
    }
    if (limits.requireTenant && !seen.tenant) return answer(401, 'no org id');
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    let raw: RawStream[];
    try {
      if (type === 'application/json') {
        seen.encoding = 'json';
        const enc = req.headers['content-encoding'];
        raw = decodeJson(enc === 'gzip' ? gunzipSync(body) : body);
      } else if (type === 'application/x-protobuf' || type === '') {
        seen.encoding = 'protobuf';
        raw = decodeProtobuf(snappyDecompress(body));
      } else {
        return answer(415, `unsupported Content-Type ${type}`);
      }
    } catch (err) {
      return answer((err as PushError).status ?? 400, (err as Error).message);
    }
    if (limits.ingestionRateBytes > 0) {
      const t = now();
      if (t - rateWindow.at >= 1000) rateWindow = { at: t, bytes: 0 };
      const size = raw.reduce((a, s) => a + s.entries.reduce((b, e) => b + Buffer.byteLength(e.line), 0), 0);
      if (rateWindow.bytes + size > limits.ingestionRateBytes) {
        return answer(429, `Ingestion rate limit exceeded for user fake (limit: ${limits.ingestionRateBytes} bytes/sec) while attempting to ingest '${raw.length}' lines totaling '${size}' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased`);
      }
      rateWindow.bytes += size;
    }
    const { accepted, errors } = ingest(raw);
    seen.entries = accepted;
    if (errors.length) return answer(400, errors.slice(0, 10).join('\n'));
    return answer(204);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  server.keepAliveTimeout = 1000;
  const listen = (port: number) => new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
  const port = await listen(opts.port ?? 0);
  const stop = () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    streams,
    pushes,
    entries(match = {}) {
      const out: (HeldEntry & { labels: Record<string, string> })[] = [];
      for (const s of streams.values()) {
        if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) for (const e of s.entries) out.push({ ...e, labels: s.labels });
      }
      return out;
    },
    failNext(n, status, retryAfter, body) {
      failures = { n, status, ...(retryAfter !== undefined ? { retryAfter } : {}), ...(body !== undefined ? { body } : {}) };
    },
    down: stop,
    async up() {
      await listen(port);
    },
    close: stop,
  };
}
