/** The journal's CRC-32: zlib's where Node has it, JavaScript on Node 18; both give the same numbers. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { crc32, crc32Table, tableCrc32 } from '../../agent/crc32.ts';

const js = tableCrc32(crc32Table());

test('the check value of CRC-32/ISO-HDLC', () => {
  const nine = Buffer.from('123456789');
  assert.is(crc32(nine), 0xcbf43926);
  assert.is(js(nine), 0xcbf43926);
  assert.is(crc32(new Uint8Array(0)), 0);
});

test('zlib and the table agree, in one piece and in several', () => {
  for (let i = 0; i < 200; i++) {
    const b = randomBytes(i * 7);
    const cut = Math.floor(b.length / 3);
    assert.is(crc32(b), js(b));
    assert.is(crc32(b.subarray(cut), crc32(b.subarray(0, cut))), js(b));
    assert.is(js(b.subarray(cut), js(b.subarray(0, cut))), js(b));
  }
});

test.run();
