import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLineSplitter } from '../../agent/logs/lines.ts';

function split(chunks: Buffer[], maxBytes = 1024): { lines: string[]; dropped: number[] } {
  const lines: string[] = [];
  const dropped: number[] = [];
  const s = createLineSplitter((l) => lines.push(l), { maxBytes, onDropped: (n) => dropped.push(n) });
  for (const c of chunks) s.push(c);
  s.end();
  return { lines, dropped };
}

test('lines come out whole, however the bytes are cut, multi-byte characters included', () => {
  const text = '{"MESSAGE":"grüße 日本"}\nsecond\r\n\nlast without newline';
  const bytes = Buffer.from(text, 'utf8');
  const want = ['{"MESSAGE":"grüße 日本"}', 'second', '', 'last without newline'];
  assert.equal(split([bytes]).lines, want);
  // Every cut point, and one byte at a time: a character split across chunks is decoded whole.
  for (let cut = 1; cut < bytes.length; cut++) assert.equal(split([bytes.subarray(0, cut), bytes.subarray(cut)]).lines, want, `cut at ${cut}`);
  assert.equal(split([...bytes].map((b) => Buffer.from([b]))).lines, want);
});

test('a line over the limit is dropped and counted, in one chunk or many; the next line is whole', () => {
  const long = 'x'.repeat(3000);
  const one = split([Buffer.from(`a\n${long}\nb\n`)]);
  assert.equal(one.lines, ['a', 'b']);
  assert.equal(one.dropped, [3000]);
  const all = Buffer.from(`a\n${long}\nb\n`);
  const pieces: Buffer[] = [];
  for (let i = 0; i < all.length; i += 700) pieces.push(all.subarray(i, i + 700));
  const many = split(pieces);
  assert.equal(many.lines, ['a', 'b']);
  assert.equal(many.dropped, [3000]);
  // Cut off by the end of the stream: dropped too.
  assert.equal(split([Buffer.from(`a\n${long}`)]), { lines: ['a'], dropped: [3000] });
});

test('the chunk a line came from can be reused by the stream afterwards', () => {
  const lines: string[] = [];
  const s = createLineSplitter((l) => lines.push(l), { maxBytes: 100 });
  const chunk = Buffer.from('hello ');
  s.push(chunk);
  chunk.fill(0x41);
  s.push(Buffer.from('world\n'));
  assert.equal(lines, ['hello world']);
});

test.run();
