/**
 * The body of a Loki push (`POST /loki/api/v1/push`) in both of its
 * encodings: protobuf compressed with snappy, as promtail sends it, and JSON.
 *
 * The protobuf message is tiny, so it is encoded by hand here rather than
 * through a protobuf library (logproto's PushRequest):
 *
 *   PushRequest  { repeated Stream streams = 1; }
 *   Stream       { string labels = 1; repeated Entry entries = 2; }
 *   Entry        { Timestamp timestamp = 1; string line = 2; repeated LabelPair structuredMetadata = 3; }
 *   LabelPair    { string name = 1; string value = 2; }
 *   Timestamp    { int64 seconds = 1; int32 nanos = 2; }  (google.protobuf)
 */
import { snappyCompress } from './snappy.ts';

/** One line as pushed. */
export interface PushEntry {
  /** Milliseconds since the epoch and the nanoseconds within. */
  ts: number;
  ns: number;
  line: string;
  /** Structured metadata, name and value. */
  meta: [string, string][];
}

/** One stream: its labels and its entries in time order. */
export interface PushStream {
  labels: [string, string][];
  /** The same labels as Loki's protobuf carries them: `{a="x", b="y"}`. */
  labelText: string;
  entries: PushEntry[];
}

/** A push body and the headers that say how it is encoded. */
export interface PushBody {
  body: Buffer;
  contentType: string;
  contentEncoding?: string;
}

/** Seconds and the nanoseconds within them. */
function split(ts: number, ns: number): [number, number] {
  const sec = Math.floor(ts / 1000);
  return [sec, (ts - sec * 1000) * 1_000_000 + ns];
}

/** Loki's JSON timestamp: nanoseconds since the epoch, as a string (more digits than a double keeps). */
export function nanoString(ts: number, ns: number): string {
  const [sec, nanos] = split(ts, ns);
  return sec === 0 ? String(nanos) : `${sec}${String(nanos).padStart(9, '0')}`;
}

class Writer {
  private chunks: Buffer[] = [];
  private cur = Buffer.allocUnsafe(4096);
  private pos = 0;
  length = 0;
  private room(n: number) {
    if (this.pos + n <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.pos));
    this.cur = Buffer.allocUnsafe(Math.max(4096, n));
    this.pos = 0;
  }
  varint(v: number) {
    this.room(10);
    while (v >= 0x80) {
      this.cur[this.pos++] = (v % 128) | 0x80;
      this.length++;
      v = Math.floor(v / 128);
    }
    this.cur[this.pos++] = v;
    this.length++;
  }
  bytes(b: Buffer) {
    this.room(b.length);
    b.copy(this.cur, this.pos);
    this.pos += b.length;
    this.length += b.length;
  }
  done(): Buffer {
    return Buffer.concat([...this.chunks, this.cur.subarray(0, this.pos)]);
  }
}

const LEN = 2;
const VARINT = 0;
const key = (field: number, wire: number) => field * 8 + wire;

function field(w: Writer, n: number, b: Buffer): void {
  w.varint(key(n, LEN));
  w.varint(b.length);
  w.bytes(b);
}

function entryBytes(e: PushEntry): Buffer {
  const w = new Writer();
  const [sec, nanos] = split(e.ts, e.ns);
  const t = new Writer();
  if (sec !== 0) { t.varint(key(1, VARINT)); t.varint(sec); }
  if (nanos !== 0) { t.varint(key(2, VARINT)); t.varint(nanos); }
  field(w, 1, t.done());
  field(w, 2, Buffer.from(e.line, 'utf8'));
  for (const [name, value] of e.meta) {
    const p = new Writer();
    field(p, 1, Buffer.from(name, 'utf8'));
    field(p, 2, Buffer.from(value, 'utf8'));
    field(w, 3, p.done());
  }
  return w.done();
}

/** The protobuf PushRequest, uncompressed. */
export function encodePushRequest(streams: readonly PushStream[]): Buffer {
  const w = new Writer();
  for (const s of streams) {
    const sw = new Writer();
    field(sw, 1, Buffer.from(s.labelText, 'utf8'));
    for (const e of s.entries) field(sw, 2, entryBytes(e));
    field(w, 1, sw.done());
  }
  return w.done();
}

/** A push as promtail sends it: protobuf in a snappy block. */
export function protobufPush(streams: readonly PushStream[]): PushBody {
  return { body: snappyCompress(encodePushRequest(streams)), contentType: 'application/x-protobuf' };
}

/** A push in Loki's JSON form: `{"streams":[{"stream":{...},"values":[["<ns>","line",{meta}]]}]}`. */
export function jsonPush(streams: readonly PushStream[]): PushBody {
  const body = {
    streams: streams.map((s) => ({
      stream: Object.fromEntries(s.labels),
      values: s.entries.map((e) => (e.meta.length ? [nanoString(e.ts, e.ns), e.line, Object.fromEntries(e.meta)] : [nanoString(e.ts, e.ns), e.line])),
    })),
  };
  return { body: Buffer.from(JSON.stringify(body), 'utf8'), contentType: 'application/json' };
}
