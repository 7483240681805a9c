/**
 * Snappy's block format (github.com/google/snappy, format_description.txt),
 * which Loki expects around a protobuf push body, as promtail sends it.
 *
 * Written here rather than taken from npm: the native `snappy` package needs
 * a binary per platform, and the block format is short — a varint length,
 * then literals and back-references. The compressor is the reference's
 * greedy scheme (a hash of 4-byte sequences, 64 KiB blocks); the
 * decompressor checks every length and offset and refuses what is not
 * well-formed, as the stand-in Loki in the tests must.
 */

/** A snappy block that is not well-formed. */
export class SnappyError extends Error {
  readonly code = 'MUSTER_ERR_SNAPPY';
}

const BLOCK = 1 << 16;
const HASH_BITS = 14;

function writeVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** A growable byte buffer. */
class Bytes {
  buf: Buffer;
  len = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64, size));
  }
  room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b;
  }
  copyFrom(src: Buffer, from: number, to: number): void {
    this.room(to - from);
    src.copy(this.buf, this.len, from, to);
    this.len += to - from;
  }
}

function literal(out: Bytes, src: Buffer, from: number, to: number): void {
  const n = to - from;
  if (n <= 0) return;
  const m = n - 1;
  if (m < 60) out.byte(m << 2);
  else if (m < 0x100) { out.byte(60 << 2); out.byte(m); }
  else if (m < 0x10000) { out.byte(61 << 2); out.byte(m & 0xff); out.byte(m >>> 8); }
  else if (m < 0x1000000) { out.byte(62 << 2); out.byte(m & 0xff); out.byte((m >>> 8) & 0xff); out.byte(m >>> 16); }
  else { out.byte(63 << 2); out.byte(m & 0xff); out.byte((m >>> 8) & 0xff); out.byte((m >>> 16) & 0xff); out.byte(m >>> 24); }
  out.copyFrom(src, from, to);
}

function copy(out: Bytes, offset: number, length: number): void {
  while (length > 0) {
    // 64 bytes at most per element; never leave fewer than 4 for a last copy1-able piece.
    let n = Math.min(length, 64);
    if (length - n > 0 && length - n < 4) n = length - 4;
    if (n >= 4 && n <= 11 && offset < 2048) {
      out.byte(0x01 | ((n - 4) << 2) | ((offset >>> 8) << 5));
      out.byte(offset & 0xff);
    } else {
      out.byte(0x02 | ((n - 1) << 2));
      out.byte(offset & 0xff);
      out.byte(offset >>> 8);
    }
    length -= n;
  }
}

/** Compresses `src[start, end)` (at most one 64 KiB block) onto `out`. */
function compressBlock(out: Bytes, src: Buffer, start: number, end: number, table: Int32Array): void {
  table.fill(-1);
  let lit = start;
  let i = start;
  while (i + 4 <= end) {
    const v = src.readUInt32LE(i);
    const h = Math.imul(v, 0x1e35a7bd) >>> (32 - HASH_BITS);
    const cand = table[h]!;
    table[h] = i;
    if (cand >= start && src.readUInt32LE(cand) === v) {
      literal(out, src, lit, i);
      let len = 4;
      while (i + len < end && src[cand + len] === src[i + len]) len++;
      copy(out, i - cand, len);
      i += len;
      lit = i;
    } else {
      i++;
    }
  }
  literal(out, src, lit, end);
}

function start(src: Buffer): Bytes {
  const head: number[] = [];
  writeVarint(head, src.length);
  const out = new Bytes(head.length + src.length + Math.ceil(src.length / 60) + 16);
  for (const b of head) out.byte(b);
  return out;
}

/** Compresses `src` into one snappy block. */
export function snappyCompress(src: Buffer): Buffer {
  const out = start(src);
  const table = new Int32Array(1 << HASH_BITS);
  for (let at = 0; at < src.length; at += BLOCK) compressBlock(out, src, at, Math.min(src.length, at + BLOCK), table);
  return out.buf.subarray(0, out.len);
}

/**
 * The same block as snappyCompress, awaiting `pause()` after every 64 KiB of
 * input, so that a big push leaves the event loop turns between its pieces.
 */
export async function snappyCompressSliced(src: Buffer, pause: () => Promise<void>): Promise<Buffer> {
  const out = start(src);
  const table = new Int32Array(1 << HASH_BITS);
  for (let at = 0; at < src.length; at += BLOCK) {
    if (at > 0) await pause();
    compressBlock(out, src, at, Math.min(src.length, at + BLOCK), table);
  }
  return out.buf.subarray(0, out.len);
}

/** Decompresses one snappy block; throws SnappyError for anything malformed, or longer than `maxLength`. */
export function snappyDecompress(src: Buffer, maxLength = 64 * 1024 * 1024): Buffer {
  let pos = 0;
  let length = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= src.length || shift > 28) throw new SnappyError('snappy: bad length preamble');
    const b = src[pos++]!;
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  if (length > maxLength) throw new SnappyError(`snappy: block of ${length} bytes is over the limit of ${maxLength}`);
  const out = Buffer.allocUnsafe(length);
  let o = 0;
  while (pos < src.length) {
    const tag = src[pos++]!;
    const kind = tag & 3;
    if (kind === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const extra = n - 59;
        if (pos + extra > src.length) throw new SnappyError('snappy: literal length runs past the end');
        n = 0;
        for (let k = 0; k < extra; k++) n += src[pos + k]! * 2 ** (8 * k);
        pos += extra;
      }
      n += 1;
      if (pos + n > src.length || o + n > length) throw new SnappyError('snappy: literal runs past the end');
      src.copy(out, o, pos, pos + n);
      pos += n;
      o += n;
      continue;
    }
    let n: number;
    let offset: number;
    if (kind === 1) {
      if (pos + 1 > src.length) throw new SnappyError('snappy: copy runs past the end');
      n = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | src[pos++]!;
    } else if (kind === 2) {
      if (pos + 2 > src.length) throw new SnappyError('snappy: copy runs past the end');
      n = 1 + (tag >>> 2);
      offset = src.readUInt16LE(pos);
      pos += 2;
    } else {
      if (pos + 4 > src.length) throw new SnappyError('snappy: copy runs past the end');
      n = 1 + (tag >>> 2);
      offset = src.readUInt32LE(pos);
      pos += 4;
    }
    if (offset === 0 || offset > o) throw new SnappyError(`snappy: copy offset ${offset} at output ${o} is out of range`);
    if (o + n > length) throw new SnappyError('snappy: copy runs past the stated length');
    // Byte by byte: a copy may overlap what it writes (a run).
    for (let k = 0; k < n; k++) out[o + k] = out[o - offset + k]!;
    o += n;
  }
  if (o !== length) throw new SnappyError(`snappy: ${o} bytes decoded, ${length} stated`);
  return out;
}
