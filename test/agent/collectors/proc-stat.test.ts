import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseProcStat, USER_HZ } from '../../../agent/collectors/proc-stat.ts';

const fixture = (path: string): string => readFileSync(new URL(`../../fixtures/host/${path}`, import.meta.url), 'utf8');

test('recorded Debian VM: one entry per CPU, jiffies as seconds, no aggregate', () => {
  // cpu0 4288 0 2488 840684 78 0 137 0 0 0
  const { cpus, bootTime } = parseProcStat(fixture('debian-vm/proc/stat'));
  assert.equal(cpus.map((c) => c.cpu), ['0', '1']);
  assert.equal(cpus[0], { cpu: '0', user: 42.88, nice: 0, system: 24.88, idle: 8406.84, iowait: 0.78, irq: 0, softirq: 1.37, steal: 0 });
  assert.is(bootTime, 1795561659);
});

test('Raspberry Pi: per-CPU counters add up to the aggregate line the parser skips', () => {
  const text = fixture('pi/proc/stat');
  const { cpus, bootTime } = parseProcStat(text);
  assert.is(cpus.length, 4);
  assert.is(bootTime, 1732400000);
  const aggregate = text.split('\n')[0]?.split(/\s+/).slice(1).map(Number) ?? [];
  const sum = (k: 'user' | 'nice' | 'system' | 'idle' | 'iowait' | 'softirq'): number =>
    Math.round(cpus.reduce((s, c) => s + c[k], 0) * USER_HZ);
  assert.equal([sum('user'), sum('nice'), sum('system'), sum('idle'), sum('iowait')], aggregate.slice(0, 5));
  assert.is(sum('softirq'), aggregate[6]);
});

test('a 2.4-era line with four columns reads the missing modes as 0', () => {
  const { cpus, bootTime } = parseProcStat('cpu  1 2 3 4\ncpu0 100 200 300 400\n');
  assert.equal(cpus, [{ cpu: '0', user: 1, nice: 2, system: 3, idle: 4, iowait: 0, irq: 0, softirq: 0, steal: 0 }]);
  assert.is(bootTime, undefined);
});

test('text without per-CPU lines is an error, not an empty host', () => {
  assert.throws(() => parseProcStat('cpu  1 2 3 4\nbtime 5\n'), /no per-CPU/);
  assert.throws(() => parseProcStat(''), /no per-CPU/);
});

test.run();
