/**
 * CRC-32 (IEEE 802.3, the one zlib, gzip and PNG use): zlib's own where Node
 * has it (`zlib.crc32`, Node 20.15 and 22.2 on), table-driven JavaScript on
 * Node 18, which the bundled agent must run on too. The journal checksums
 * every record; on V8's interpreter (agent/runtime-flags.ts) the JavaScript
 * loop was the agent's hottest function while it shipped logs.
 */
import * as zlib from 'node:zlib';

function makeTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** The JavaScript CRC-32 (exported for the test that holds it to zlib's). */
export function tableCrc32(table: Uint32Array): (bytes: Uint8Array, crc?: number) => number {
  return (bytes, crc = 0) => {
    let c = ~crc >>> 0;
    for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    return ~c >>> 0;
  };
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/**
 * The CRC-32 of `bytes`. Pass the result of a previous call as `crc` to go on
 * over several pieces as if they were one buffer. Chosen once, never changed:
 * a constant, not shared mutable state.
 */
export const crc32: (bytes: Uint8Array, crc?: number) => number = typeof native === 'function'
  ? (bytes, crc = 0) => native(bytes, crc)
  : tableCrc32(makeTable());

/** A fresh table for tableCrc32. */
export const crc32Table = makeTable;
