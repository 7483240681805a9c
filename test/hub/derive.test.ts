import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpuUsedBetween, summarizeUse } from '../../hub/derive.ts';
import type { CpuTimes, SampleData } from '../../protocol/index.ts';

const cpu = (id: string, busy: number, idle: number): CpuTimes => ({ cpu: id, user: busy, nice: 0, system: 0, idle, iowait: 0, irq: 0, softirq: 0, steal: 0 });

test('CPU use is busy time over all time between two counter readings, across CPUs', () => {
  const a = [cpu('0', 100, 900), cpu('1', 50, 950)];
  const b = [cpu('0', 175, 925), cpu('1', 75, 1025)]; // +75 busy/+25 idle, +25 busy/+75 idle
  assert.is(cpuUsedBetween(a, b), 0.5);
});

test('no figure without a previous reading or after a counter reset', () => {
  assert.is(cpuUsedBetween(undefined, [cpu('0', 1, 1)]), null);
  assert.is(cpuUsedBetween([cpu('0', 100, 100)], [cpu('0', 1, 1)]), null);
});

test('summary: memory used is total minus available, disk percent like df, hottest sensor', () => {
  const d: SampleData = {
    cpu: [], load: [0.5, 0.4, 0.3], network: [], unavailable: [],
    memory: { totalBytes: 1000, availableBytes: 250, freeBytes: 100, buffersBytes: 0, cachedBytes: 0, swapTotalBytes: 0, swapFreeBytes: 0 },
    filesystems: [
      { mountpoint: '/', device: 'sda1', fstype: 'ext4', sizeBytes: 100, freeBytes: 40, availBytes: 20, files: 0, filesFree: 0 },
      { mountpoint: '/data', device: 'sdb1', fstype: 'xfs', sizeBytes: 100, freeBytes: 90, availBytes: 90, files: 0, filesFree: 0 },
    ],
    temperatures: [{ sensor: 'a', celsius: 41 }, { sensor: 'b', celsius: 57.5 }],
  };
  const s = summarizeUse(1, 0.123, d);
  assert.is(s.cpuPercent, 12.3);
  assert.is(s.memory.usedBytes, 750);
  assert.is(s.memory.percent, 75);
  assert.is(s.filesystems[0]!.percent, 75, 'used / (used + avail): reserved blocks count as full');
  assert.is(s.diskPercent, 75);
  assert.is(s.temperatureCelsius, 57.5);
});

test.run();
