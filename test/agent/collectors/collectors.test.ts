import { cp, mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HostFacts, SampleData } from '../../../protocol/messages.ts';
import type { HostFacts as HostFactsT, SampleData as SampleDataT } from '../../../protocol/messages.ts';
import { createCollectors } from '../../../agent/collectors/index.ts';

const PI = fileURLToPath(new URL('../../fixtures/host/pi', import.meta.url));
const factsSchema = TypeCompiler.Compile(HostFacts);
const sampleSchema = TypeCompiler.Compile(SampleData);

function assertValid(facts: HostFactsT | undefined, sample: SampleDataT | undefined): void {
  if (facts !== undefined) assert.equal([...factsSchema.Errors(facts)].map((e) => `${e.path}: ${e.message}`), [], 'facts match the protocol');
  if (sample !== undefined) assert.equal([...sampleSchema.Errors(sample)].map((e) => `${e.path}: ${e.message}`), [], 'sample matches the protocol');
}

async function withCopy(from: string | undefined, run: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(os.tmpdir(), 'muster-host-'));
  try {
    if (from !== undefined) await cp(from, root, { recursive: true });
    await run(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const options = { name: 'pi-kitchen', labels: { room: 'kitchen' }, agentVersion: '0.1.0' };

test('Raspberry Pi fixture, end to end: facts', async () => {
  const facts = await createCollectors({ ...options, root: PI, arch: 'arm' }).facts();
  assertValid(facts, undefined);
  assert.equal(facts.unavailable, []);
  assert.is(facts.hostname, 'raspberrypi');
  assert.is(facts.machineId, '7c2f4e9a1b3d4c5e8f6a0b1c2d3e4f5a');
  assert.equal(facts.os, { id: 'raspbian', name: 'Raspbian GNU/Linux', version: '12', prettyName: 'Raspbian GNU/Linux 12 (bookworm)' });
  assert.is(facts.kernel, '6.6.51+rpt-rpi-v7l');
  assert.is(facts.arch, 'armv7');
  assert.is(facts.platform, 'linux/arm/v7');
  assert.equal(facts.cpu, { model: 'Raspberry Pi 4 Model B Rev 1.4', cores: 4 });
  assert.is(facts.memoryBytes, 3882448 * 1024);
  assert.is(facts.swapBytes, 102396 * 1024);
  assert.equal(facts.filesystems.map((f) => [f.mountpoint, f.device, f.fstype]), [
    ['/', '/dev/mmcblk0p2', 'ext4'],
    ['/run', 'tmpfs', 'tmpfs'],
    ['/run/lock', 'tmpfs', 'tmpfs'],
    ['/boot/firmware', '/dev/mmcblk0p1', 'vfat'],
    ['/run/user/1000', 'tmpfs', 'tmpfs'],
    ['/media/pi/USB STICK', '/dev/sda1', 'vfat'],
  ]);
  assert.is(facts.bootTime, 1732400000);
  assert.is(facts.rebootRequired, true);
  assert.equal(facts.rebootRequiredPackages, ['linux-image-6.6.51+rpt-rpi-v7l', 'raspi-firmware']);
  assert.is(facts.agentVersion, '0.1.0');
  assert.is(facts.runtime, `node ${process.version}`);
  assert.equal(facts.labels, { room: 'kitchen' });
});

test('Raspberry Pi fixture, end to end: sample', async () => {
  const sample = await createCollectors({ ...options, root: PI }).sample();
  assertValid(undefined, sample);
  assert.equal(sample.unavailable, []);
  assert.equal(sample.cpu.map((c) => c.cpu), ['0', '1', '2', '3']);
  assert.is(sample.cpu[3]?.idle, 24735.43);
  assert.equal(sample.load, [0.42, 0.31, 0.27]);
  assert.is(sample.memory.availableBytes, 3353796 * 1024);
  assert.is(sample.filesystems.length, 6);
  assert.equal(sample.network.map((n) => n.iface), ['lo', 'eth0', 'wlan0', 'docker0']);
  assert.equal(sample.temperatures, [
    { sensor: 'thermal/cpu-thermal/0', celsius: 48.312 },
    { sensor: 'hwmon/cpu_thermal/temp1', celsius: 48.312 },
  ]);
});

test('a missing file is an unavailable entry, not a throw; the rest is still reported', async () => {
  await withCopy(PI, async (root) => {
    await rm(join(root, 'proc/loadavg'));
    await rm(join(root, 'etc/machine-id'));
    const c = createCollectors({ ...options, root });
    const [facts, sample] = await Promise.all([c.facts(), c.sample()]);
    assertValid(facts, sample);
    assert.equal(sample.unavailable.map((u) => u.collector), ['loadavg']);
    assert.match(sample.unavailable[0]?.reason ?? '', /ENOENT.*proc\/loadavg/);
    assert.equal(sample.load, [0, 0, 0]);
    assert.is(sample.cpu.length, 4);
    assert.is(sample.temperatures.length, 2);
    assert.equal(facts.unavailable.map((u) => u.collector), ['machine-id']);
    assert.is(facts.machineId, '');
    assert.is(facts.hostname, 'raspberrypi');
  });
});

test('an empty root: every collector unavailable, still valid frames', async () => {
  await withCopy(undefined, async (root) => {
    const c = createCollectors({ ...options, root });
    const [facts, sample] = await Promise.all([c.facts(), c.sample()]);
    assertValid(facts, sample);
    assert.equal(facts.unavailable.map((u) => u.collector), [
      'cpuinfo', 'filesystems', 'machine-id', 'meminfo', 'os-release', 'proc-stat', 'uname', 'uname',
    ]);
    assert.is(facts.hostname, 'pi-kitchen', 'the node name stands in for an unreadable host name');
    assert.is(facts.rebootRequired, false);
    // No sensors is what a VM looks like: not an error.
    assert.equal(sample.unavailable.map((u) => u.collector), ['filesystems', 'loadavg', 'meminfo', 'net-dev', 'proc-stat']);
    assert.equal(sample.temperatures, []);
  });
});

test('this host: facts agree with what Node and the kernel say', async () => {
  const facts = await createCollectors({ ...options }).facts();
  assertValid(facts, undefined);
  assert.equal(facts.unavailable, []);
  assert.is(facts.hostname, os.hostname());
  assert.is(facts.kernel, os.release());
  assert.is(facts.cpu.cores, os.cpus().length);
  assert.is(facts.memoryBytes, os.totalmem());
  assert.ok(Math.abs(facts.bootTime - (Date.now() / 1000 - os.uptime())) < 5, 'bootTime matches uptime');
  assert.match(facts.machineId, /^[0-9a-f]{32}$/);
  const root = facts.filesystems.find((f) => f.mountpoint === '/');
  assert.ok(root !== undefined && root.sizeBytes > 0, '/ is reported with a size');
  assert.ok(facts.addresses.some((a) => a.address === '127.0.0.1' && a.internal));
  const expectedArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };
  if (expectedArch[process.arch] !== undefined) assert.is(facts.platform, `linux/${expectedArch[process.arch]}`);
});

test('this host: CPU counters grow between two samples', async () => {
  const c = createCollectors({ ...options });
  const total = (s: SampleDataT): number => s.cpu.reduce((t, x) => t + x.user + x.nice + x.system + x.idle + x.iowait + x.irq + x.softirq + x.steal, 0);
  const first = await c.sample();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const second = await c.sample();
  assertValid(undefined, first);
  assertValid(undefined, second);
  assert.equal(second.unavailable, []);
  assert.is(second.cpu.length, os.cpus().length);
  assert.ok(total(second) > total(first), 'CPU time moved forward');
  assert.is(second.memory.totalBytes, os.totalmem());
  const rootFs = second.filesystems.find((f) => f.mountpoint === '/');
  assert.ok(rootFs !== undefined && rootFs.sizeBytes > 0 && rootFs.availBytes <= rootFs.sizeBytes);
  assert.ok(second.network.some((n) => n.iface === 'lo'));
  const [l1] = second.load;
  assert.ok(Math.abs(l1 - (os.loadavg()[0] ?? 0)) < 1);
});

test.run();
