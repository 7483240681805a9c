import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCpuinfo } from '../../../agent/collectors/cpuinfo.ts';

const fixture = (path: string): string => readFileSync(new URL(`../../fixtures/host/${path}`, import.meta.url), 'utf8');

test('recorded x86 VM: "model name", not the numeric "model"', () => {
  assert.equal(parseCpuinfo(fixture('debian-vm/proc/cpuinfo')), { model: 'AMD EPYC', armVariant: undefined });
});

test('Raspberry Pi 4 on 32-bit Raspberry Pi OS: the board, and ARMv7', () => {
  assert.equal(parseCpuinfo(fixture('pi/proc/cpuinfo')), { model: 'Raspberry Pi 4 Model B Rev 1.4', armVariant: 'v7' });
});

test('Raspberry Pi 4 on 64-bit Raspberry Pi OS: no "model name", board still found', () => {
  assert.equal(parseCpuinfo(fixture('cpuinfo/pi4-arm64.txt')), { model: 'Raspberry Pi 4 Model B Rev 1.4', armVariant: 'v8' });
});

test('Raspberry Pi Zero W: ARMv6 although it claims "CPU architecture: 7"', () => {
  assert.equal(parseCpuinfo(fixture('cpuinfo/pi-zero-w.txt')), { model: 'Raspberry Pi Zero W Rev 1.1', armVariant: 'v6' });
});

test('an arm64 server without a board name: the core from its part number', () => {
  assert.equal(parseCpuinfo(fixture('cpuinfo/graviton2.txt')), { model: 'Neoverse-N1', armVariant: 'v8' });
});

test('nothing recognisable', () => {
  assert.equal(parseCpuinfo('processor : 0\n'), { model: undefined, armVariant: undefined });
});

test.run();
