import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseOnChange, readInChunks, readWhole } from '../../../agent/collectors/read.ts';

test('the chunked read (Node 18\'s) gives what readFileSync gives: /proc, /sys, and long files with characters across chunks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'muster-read-'));
  try {
    const long = join(dir, 'long.txt');
    // 3-byte characters at every offset, so some straddle the 4000-byte chunks.
    writeFileSync(long, 'ab€'.repeat(9000));
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    // /proc/kallsyms: a seq_file of megabytes, handed out a page per read.
    for (const f of ['/proc/filesystems', '/proc/kallsyms', '/sys/class/net/lo/mtu', '/etc/services', long, empty]) {
      assert.is(readInChunks(f), readFileSync(f, 'utf8'), f);
      assert.is(readWhole(f), readFileSync(f, 'utf8'), f);
    }
    assert.throws(() => readInChunks(join(dir, 'absent')), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseOnChange parses a text once while it stays the same, again when it changes, and keeps nothing from a failed parse', () => {
  const parsed: string[] = [];
  const parse = parseOnChange((text: string) => {
    parsed.push(text);
    if (text === 'bad') throw new Error('bad text');
    return { lines: text.split('\n') };
  });
  const a = parse('x\ny');
  assert.is(parse('x\ny'), a, 'the same text: the same result, not parsed again');
  // An equal text from another read is the same text.
  assert.is(parse(['x', 'y'].join('\n')), a);
  assert.equal(parse('x\nz'), { lines: ['x', 'z'] });
  assert.throws(() => parse('bad'), /bad text/);
  assert.throws(() => parse('bad'), /bad text/, 'a failed parse is not remembered');
  assert.equal(parsed, ['x\ny', 'x\nz', 'bad', 'bad']);
});

test.run();
