/**
 * Frame compression (protocol 2). A frame above COMPRESS_ABOVE_BYTES goes
 * out as a binary WebSocket frame holding the raw DEFLATE of its JSON text;
 * smaller ones stay text. This replaces permessage-deflate on the agent
 * link: that kept a zlib context per connection on the hub (~75 KiB each,
 * 150 MiB at 2,000 agents) and ran every inflate through the thread pool; a
 * synchronous inflate of a 1 KiB frame takes ~40 µs and keeps nothing.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { MAX_FRAME_BYTES } from './version.ts';

/** Frames of more bytes than this are sent deflated. */
export const COMPRESS_ABOVE_BYTES = 1024;

/** The frame to hand to ws.send: the text itself, or its deflated bytes. */
export function packFrame(text: string): string | Buffer {
  if (text.length <= COMPRESS_ABOVE_BYTES) return text;
  return deflateRawSync(Buffer.from(text, 'utf8'));
}

/** A frame's JSON text, or why it cannot be had. */
export type UnpackResult =
  | { ok: true; text: string }
  | { ok: false; code: 'MUSTER_ERR_FRAME_TOO_LARGE' | 'MUSTER_ERR_FRAME_INVALID'; reason: string };

/**
 * The JSON text of a received frame: text frames as they are, binary frames
 * inflated, never to more than `maxBytes` (a small frame that inflates to
 * gigabytes is refused, not expanded).
 */
export function unpackFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean, maxBytes = MAX_FRAME_BYTES): UnpackResult {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  if (!isBinary) return { ok: true, text: buf.toString('utf8') };
  try {
    return { ok: true, text: inflateRawSync(buf, { maxOutputLength: maxBytes }).toString('utf8') };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      return { ok: false, code: 'MUSTER_ERR_FRAME_TOO_LARGE', reason: `a compressed frame inflates to more than ${maxBytes} bytes` };
    }
    return { ok: false, code: 'MUSTER_ERR_FRAME_INVALID', reason: `a binary frame is not raw DEFLATE data: ${e.message}` };
  }
}
