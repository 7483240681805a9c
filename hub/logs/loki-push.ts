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
import { snappyCompress, snappyCompressSliced } from './snappy.ts';

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

const varintLen = (v: number): number => {
  let n = 1;
  for (; v >= 0x80; n++) v = Math.floor(v / 128);
  return n;
};

function putVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/** Bytes of a length-delimited field of `n` bytes (field numbers here are all < 16: a one-byte key). */
const fieldLen = (n: number): number => 1 + varintLen(n) + n;

const LEN = 2;
const VARINT = 0;
const key = (field: number, wire: number) => field * 8 + wire;

/**
 * The protobuf PushRequest, uncompressed. Two passes: the sizes of every
 * nested message first (kept in order in `sizes`), then one buffer written
 * front to back, with no intermediate buffer per entry.
 */
export function encodePushRequest(streams: readonly PushStream[]): Buffer {
  const sizes: number[] = [];
  let total = 0;
  for (const s of streams) {
    const at = sizes.length;
    sizes.push(0);
    const labels = Buffer.byteLength(s.labelText, 'utf8');
    sizes.push(labels);
    let stream = fieldLen(labels);
    for (const e of s.entries) {
      const [sec, nanos] = split(e.ts, e.ns);
      const ts = (sec !== 0 ? 1 + varintLen(sec) : 0) + (nanos !== 0 ? 1 + varintLen(nanos) : 0);
      const line = Buffer.byteLength(e.line, 'utf8');
      const entryAt = sizes.length;
      sizes.push(0, ts, line);
      let entry = fieldLen(ts) + fieldLen(line);
      for (const [name, value] of e.meta) {
        const n = Buffer.byteLength(name, 'utf8');
        const v = Buffer.byteLength(value, 'utf8');
        const pair = fieldLen(n) + fieldLen(v);
        sizes.push(pair, n, v);
        entry += fieldLen(pair);
      }
      sizes[entryAt] = entry;
      stream += fieldLen(entry);
    }
    sizes[at] = stream;
    total += fieldLen(stream);
  }
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  let k = 0;
  const str = (field: number, text: string) => {
    const n = sizes[k++]!;
    buf[pos++] = key(field, LEN);
    pos = putVarint(buf, pos, n);
    pos += buf.write(text, pos, n, 'utf8');
  };
  const head = (field: number) => {
    buf[pos++] = key(field, LEN);
    pos = putVarint(buf, pos, sizes[k++]!);
  };
  for (const s of streams) {
    head(1);
    str(1, s.labelText);
    for (const e of s.entries) {
      head(2);
      const [sec, nanos] = split(e.ts, e.ns);
      head(1);
      if (sec !== 0) { buf[pos++] = key(1, VARINT); pos = putVarint(buf, pos, sec); }
      if (nanos !== 0) { buf[pos++] = key(2, VARINT); pos = putVarint(buf, pos, nanos); }
      str(2, e.line);
      for (const [name, value] of e.meta) {
        head(3);
        str(1, name);
        str(2, value);
      }
    }
  }
  if (pos !== total) throw new Error(`protobuf push: wrote ${pos} bytes of ${total}`);
  return buf;
}

/** A push as promtail sends it: protobuf in a snappy block. */
export function protobufPush(streams: readonly PushStream[]): PushBody {
  return { body: snappyCompress(encodePushRequest(streams)), contentType: 'application/x-protobuf' };
}

/** protobufPush, compressed a 64 KiB block at a time with `pause()` between: the event loop turns meanwhile. */
export async function protobufPushSliced(streams: readonly PushStream[], pause: () => Promise<void>): Promise<PushBody> {
  return { body: await snappyCompressSliced(encodePushRequest(streams), pause), contentType: 'application/x-protobuf' };
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
