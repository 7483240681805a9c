import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseLoadavg } from '../../../agent/collectors/loadavg.ts';

const fixture = (path: string): string => readFileSync(new URL(`../../fixtures/host/${path}`, import.meta.url), 'utf8');

test('recorded Debian VM', () => {
  assert.equal(parseLoadavg(fixture('debian-vm/proc/loadavg')), [0.41, 0.21, 0.11]);
});

test('Raspberry Pi', () => {
  assert.equal(parseLoadavg(fixture('pi/proc/loadavg')), [0.42, 0.31, 0.27]);
});

test('garbage is an error', () => {
  assert.throws(() => parseLoadavg(''), /unexpected/);
  assert.throws(() => parseLoadavg('0.1 x 0.3 1/2 3'), /unexpected/);
});

test.run();
