/**
 * CRC-32 (IEEE 802.3, the one zlib, gzip and PNG use), table-driven.
 * Node 18, which the bundled agent must run on, has no `zlib.crc32`.
 */

function makeTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

// Computed once and never written again: a constant, not shared mutable state.
const TABLE = makeTable();

/**
 * The CRC-32 of `bytes`. Pass the result of a previous call as `crc` to go on
 * over several pieces as if they were one buffer.
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
