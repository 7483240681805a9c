import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseMeminfo } from '../../../agent/collectors/meminfo.ts';

const fixture = (path: string): string => readFileSync(new URL(`../../fixtures/host/${path}`, import.meta.url), 'utf8');

test('recorded Debian VM, kB -> bytes, no swap', () => {
  assert.equal(parseMeminfo(fixture('debian-vm/proc/meminfo')), {
    totalBytes: 24683620 * 1024,
    availableBytes: 24300116 * 1024,
    freeBytes: 24306224 * 1024,
    buffersBytes: 1036 * 1024,
    cachedBytes: 172204 * 1024,
    swapTotalBytes: 0,
    swapFreeBytes: 0,
  });
});

test('Raspberry Pi (32-bit, HighTotal/CmaTotal lines) with a swap file', () => {
  const m = parseMeminfo(fixture('pi/proc/meminfo'));
  assert.is(m.totalBytes, 3882448 * 1024);
  assert.is(m.availableBytes, 3353796 * 1024);
  assert.is(m.swapTotalBytes, 102396 * 1024);
  assert.is(m.swapFreeBytes, 102396 * 1024);
});

test('kernels before 3.14 have no MemAvailable: free + buffers + cached stands in', () => {
  const m = parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n');
  assert.is(m.availableBytes, 420 * 1024);
});

test('no MemTotal is an error', () => {
  assert.throws(() => parseMeminfo('MemFree: 100 kB\n'), /MemTotal/);
});

test.run();
