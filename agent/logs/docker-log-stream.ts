/**
 * Parses what GET /containers/{id}/logs?follow=1&timestamps=1 sends.
 *
 * A container without a TTY gets a multiplexed stream: frames of an 8-byte
 * header (stream 1 stdout or 2 stderr, three zero bytes, the payload length
 * big-endian) and the payload, one log message each, which may arrive split
 * across reads or several to a read. A TTY container gets the raw bytes, one
 * message after another. Every message starts with its RFC 3339 timestamp
 * (nanoseconds, trailing zeros trimmed) and a space.
 *
 * Docker cuts a line longer than 16 KiB into partial messages, each with its
 * own timestamp and without a newline but the last: they are joined again
 * (up to the line limit, past which the rest is dropped and the line marked
 * cut). In a raw (TTY) stream the parts cannot be told apart from the text,
 * so such a line keeps the inner timestamps; TTY output also ends lines with
 * \r\n, and the \r goes.
 */

/** A parsed line: when Docker took it, on which stream, and its text. */
export interface DockerLogLine {
  ms: number;
  ns: number;
  stderr: boolean;
  text: string;
  /** The line was longer than the limit and was cut. */
  cut: boolean;
}

/** Feeds chunks of the response body, calls back with whole lines. */
export interface DockerLogParser {
  push(chunk: Buffer): void;
  /** The stream ended: a last line without its newline is given as it is. */
  end(): void;
}

const TS = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) /;

/** Milliseconds and nanoseconds of a Docker timestamp at the start of `s`, and where the text after it starts. */
export function parseDockerTimestamp(s: string): { ms: number; ns: number; rest: number } | undefined {
  const m = TS.exec(s);
  if (!m) return undefined;
  const secMs = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(secMs)) return undefined;
  const frac = (m[2] ?? '').padEnd(9, '0');
  return { ms: secMs + Number(frac.slice(0, 3)), ns: Number(frac.slice(3)), rest: m[0].length };
}

/** Docker's `since` for a time: seconds and nanoseconds, `1700000000.123456789`. */
export function dockerSince(ms: number, ns: number): string {
  const sec = Math.floor(ms / 1000);
  const nanos = (ms - sec * 1000) * 1_000_000 + ns;
  return `${sec}.${String(nanos).padStart(9, '0')}`;
}

/** Creates a parser for one stream; `tty` says which of the two shapes it has. */
export function createDockerLogParser(tty: boolean, maxLine: number, onLine: (line: DockerLogLine) => void): DockerLogParser {
  let buf: Buffer = Buffer.alloc(0);
  /** A partial message waiting for its continuation, per stream (0 stdout, 1 stderr). */
  const partial: ({ ms: number; ns: number; text: string; cut: boolean } | undefined)[] = [undefined, undefined];

  const message = (payload: string, stderr: boolean, complete: boolean) => {
    const ts = parseDockerTimestamp(payload);
    let text = ts ? payload.slice(ts.rest) : payload;
    const k = stderr ? 1 : 0;
    const open = partial[k];
    if (complete) {
      if (text.endsWith('\n')) text = text.slice(0, -1);
      if (text.endsWith('\r')) text = text.slice(0, -1);
    }
    let entry: { ms: number; ns: number; text: string; cut: boolean };
    if (open) {
      entry = open;
      if (!entry.cut) entry.text += text;
    } else {
      entry = { ms: ts?.ms ?? Date.now(), ns: ts?.ns ?? 0, text, cut: false };
    }
    if (entry.text.length > maxLine) {
      entry.text = entry.text.slice(0, maxLine);
      entry.cut = true;
    }
    if (complete) {
      partial[k] = undefined;
      onLine({ ms: entry.ms, ns: entry.ns, stderr, text: entry.text, cut: entry.cut });
    } else {
      partial[k] = entry;
    }
  };

  const pushMultiplexed = () => {
    let off = 0;
    while (buf.length - off >= 8) {
      const kind = buf[off]!;
      const size = buf.readUInt32BE(off + 4);
      if (buf.length - off - 8 < size) break;
      const payload = buf.toString('utf8', off + 8, off + 8 + size);
      off += 8 + size;
      // 0 is stdin (never logged); anything else but 2 is taken as stdout.
      message(payload, kind === 2, payload.endsWith('\n'));
    }
    buf = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
  };

  const pushRaw = () => {
    let from = 0;
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10, from)) {
      message(buf.toString('utf8', from, nl + 1), false, true);
      from = nl + 1;
    }
    buf = from === buf.length ? Buffer.alloc(0) : buf.subarray(from);
    // A TTY line that never ends must not grow without bound: hand it on as a partial.
    if (buf.length > maxLine * 4 + 64) {
      message(buf.toString('utf8'), false, false);
      buf = Buffer.alloc(0);
    }
  };

  return {
    push(chunk) {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (tty) pushRaw();
      else pushMultiplexed();
    },
    end() {
      if (tty && buf.length > 0) message(buf.toString('utf8'), false, true);
      buf = Buffer.alloc(0);
      for (const k of [0, 1]) {
        const open = partial[k];
        if (open) {
          partial[k] = undefined;
          onLine({ ms: open.ms, ns: open.ns, stderr: k === 1, text: open.text, cut: open.cut });
        }
      }
    },
  };
}
