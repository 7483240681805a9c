import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseBytes, parseCpu, parsePlatform, platformOf, rankPlacements, type NodeCapacity, type PlacementRequest } from '../../hub/placement.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const node = (name: string, over: Partial<NodeCapacity> = {}): NodeCapacity => ({
  name, online: true, platform: 'linux/amd64', labels: {}, cpuCores: 4, memoryBytes: 8 * GiB, diskFreeBytes: 100 * GiB,
  usage: { cpuP95Hour: 1, cpuP95Day: 1, memP95Hour: 2 * GiB, memP95Day: 2 * GiB },
  reserved: { cpu: 0, memoryBytes: 0, diskBytes: 0 }, portsInUse: [], images: [], serviceInstances: 0, ...over,
});
const request = (over: Partial<PlacementRequest> = {}): PlacementRequest => ({
  cpu: 0.5, memoryBytes: 256 * MiB, diskBytes: 0, constraints: {}, ports: [], strategy: 'binpack', ...over,
});
const codes = (a: ReturnType<typeof rankPlacements>, name: string) => a.ranked.find((r) => r.node === name)!.reasons.map((r) => r.code);

test('mixed architectures: only nodes of the asked platform fit, the others say which platform they are', () => {
  const a = rankPlacements(request({ platform: 'linux/arm64' }), [
    node('x86'), node('pi4', { platform: 'linux/arm64' }), node('pi3', { platform: 'linux/arm/v7' }), node('new', { platform: null }),
  ]);
  assert.ok(a.fits);
  assert.is(a.best, 'pi4');
  assert.equal(a.ranked.filter((r) => r.feasible).map((r) => r.node), ['pi4']);
  assert.match(a.ranked.find((r) => r.node === 'pi3')!.reasons[0]!.message, /platform linux\/arm\/v7, linux\/arm64 asked/);
  assert.equal(codes(a, 'new'), ['platform']);
});

test('a node with three problems lists all three', () => {
  const a = rankPlacements(request({ platform: 'linux/arm64', constraints: { group: 'compute', zone: 'a' }, ports: [{ port: 8080, protocol: 'tcp' }] }), [
    node('busy', { labels: { group: 'storage' }, portsInUse: [{ port: 8080, protocol: 'tcp' }] }),
  ]);
  assert.equal(codes(a, 'busy'), ['platform', 'label', 'label', 'port']);
  const msgs = a.ranked[0]!.reasons.map((r) => r.message);
  assert.ok(msgs.includes('label group=compute missing (node has group=storage)'));
  assert.ok(msgs.includes('label zone=a missing (node has no zone label)'));
  assert.ok(msgs.includes('port 8080/tcp is in use'));
  assert.not.ok(a.fits);
  assert.is(a.closest, 'busy');
  assert.is(a.best, null);
});

test('a full node is rejected for memory with the figures; reserved capacity of recent deploys counts', () => {
  const a = rankPlacements(request({ memoryBytes: 1 * GiB }), [
    node('full', { usage: { memP95Hour: 7 * GiB, memP95Day: 6.5 * GiB } }),
    node('reserved', { reserved: { cpu: 3, memoryBytes: 5 * GiB, diskBytes: 0 } }),
    node('roomy'),
  ]);
  assert.equal(a.ranked.filter((r) => r.feasible).map((r) => r.node), ['roomy']);
  assert.equal(codes(a, 'full'), ['memory']);
  assert.match(a.ranked.find((r) => r.node === 'full')!.reasons[0]!.message, /needs 1\.0 GiB memory, 205 MiB free of 8\.0 GiB after 10% headroom \(p95 use 7\.0 GiB\)/);
  assert.equal(codes(a, 'reserved'), ['cpu', 'memory']);
  const roomy = a.ranked[0]!;
  assert.is(roomy.figures.cpuUsed, 1);
  assert.is(roomy.figures.memoryUsedBytes, 2 * GiB);
});

test('the day\'s p95 counts when it is higher than the hour\'s', () => {
  const a = rankPlacements(request({ cpu: 2 }), [node('spiky', { usage: { cpuP95Hour: 0.2, cpuP95Day: 1.8, memP95Hour: GiB, memP95Day: GiB } })]);
  assert.equal(codes(a, 'spiky'), ['cpu']);
  assert.is(a.ranked[0]!.figures.cpuUsed, 1.8);
});

test('binpack fills the fullest node that fits; spread takes the emptiest and avoids nodes that run the service', () => {
  const fleet = [
    node('empty', { usage: { cpuP95Hour: 0.2, memP95Hour: 0.5 * GiB } }),
    node('half', { usage: { cpuP95Hour: 2, memP95Hour: 4 * GiB } }),
    node('full', { usage: { cpuP95Hour: 3.5, memP95Hour: 7.5 * GiB } }),
  ];
  const bin = rankPlacements(request(), fleet);
  assert.equal(bin.ranked.map((r) => r.node), ['half', 'empty', 'full']);
  assert.equal(codes(bin, 'full'), ['cpu', 'memory']);
  const spread = rankPlacements(request({ strategy: 'spread' }), fleet);
  assert.equal(spread.ranked.map((r) => r.node), ['empty', 'half', 'full']);
  const withService = rankPlacements(request({ strategy: 'spread', service: 'web' }), [fleet[0]!, { ...fleet[1]!, serviceInstances: 0 }].map((n, i) => ({ ...n, serviceInstances: i === 0 ? 1 : 0 })));
  assert.is(withService.best, 'half', 'a node without the service beats an emptier one with it');
  assert.ok(withService.ranked.find((r) => r.node === 'empty')!.notes.some((n) => /1 instance of web already here/.test(n)));
});

test('spread by a label counts instances per label value across the fleet', () => {
  const fleet = [
    node('a1', { labels: { zone: 'a' }, serviceInstances: 1 }),
    node('a2', { labels: { zone: 'a' }, usage: { cpuP95Hour: 0, memP95Hour: 0 } }),
    node('b1', { labels: { zone: 'b' }, usage: { cpuP95Hour: 2, memP95Hour: 4 * GiB } }),
  ];
  const a = rankPlacements(request({ strategy: 'spread', spreadBy: 'zone', service: 'web' }), fleet);
  assert.is(a.best, 'b1', 'zone b has no instance yet, though a2 is emptier');
});

test('an image already on a node breaks a tie', () => {
  const a = rankPlacements(request({ image: 'busybox' }), [node('cold'), node('warm', { images: ['docker.io/library/busybox:latest'] })]);
  assert.is(a.best, 'warm');
  assert.ok(a.ranked[0]!.notes.includes('image already present'));
  assert.is(a.ranked[0]!.score - a.ranked[1]!.score, 10);
});

test('offline nodes and disk: every reason, offline ranked after resource shortfalls', () => {
  const a = rankPlacements(request({ diskBytes: 50 * GiB, memoryBytes: 7 * GiB }), [
    node('gone', { online: false }),
    node('small-disk', { diskFreeBytes: 20 * GiB }),
    node('unknown-disk', { diskFreeBytes: null }),
  ]);
  assert.not.ok(a.fits);
  assert.equal(codes(a, 'gone'), ['offline', 'memory']);
  assert.equal(codes(a, 'small-disk'), ['memory', 'disk']);
  assert.equal(codes(a, 'unknown-disk'), ['memory', 'disk']);
  assert.is(a.ranked.at(-1)!.node, 'gone');
  assert.is(a.closest, a.ranked[0]!.node);
});

test('nothing fits: force over-commits the closest node with a warning, never silently, and never past a hard reason', () => {
  const fleet = [node('n1', { usage: { cpuP95Hour: 3.5, memP95Hour: 2 * GiB } }), node('n2', { usage: { cpuP95Hour: 3.9, memP95Hour: 2 * GiB } })];
  const plain = rankPlacements(request({ cpu: 1 }), fleet);
  assert.not.ok(plain.fits);
  assert.is(plain.best, null);
  assert.is(plain.closest, 'n1');
  assert.equal(plain.warnings, []);
  const forced = rankPlacements(request({ cpu: 1 }), fleet, { force: true });
  assert.is(forced.best, 'n1');
  assert.not.ok(forced.fits);
  assert.match(forced.warnings[0]!, /nothing fits; --force over-commits n1: needs 1 cores/);
  const hard = rankPlacements(request({ ports: [{ port: 80, protocol: 'tcp' }] }), [node('web', { portsInUse: [{ port: 80, protocol: 'tcp' }] })], { force: true });
  assert.is(hard.best, null);
  assert.match(hard.warnings[0]!, /--force cannot help.*port 80\/tcp is in use/);
  const fits = rankPlacements(request(), [node('ok')], { force: true });
  assert.is(fits.best, 'ok');
  assert.equal(fits.warnings, [], 'force changes nothing when something fits');
});

test('no nodes at all is an answer, not a crash', () => {
  const a = rankPlacements(request(), []);
  assert.equal([a.fits, a.best, a.closest, a.ranked.length], [false, null, null, 0]);
  assert.match(a.warnings[0]!, /no nodes known/);
});

test('sizes, cores and platforms parse the way docker reads them; nonsense does not', () => {
  assert.is(parseBytes('256M'), 256 * MiB);
  assert.is(parseBytes('1G'), GiB);
  assert.is(parseBytes('512Mi'), 512 * MiB);
  assert.is(parseBytes('1.5GiB'), 1.5 * GiB);
  assert.is(parseBytes('1048576'), MiB);
  for (const bad of ['', 'M', '-1G', '1X', '1 G B', 'lots']) assert.is(parseBytes(bad), undefined, bad);
  assert.is(parseCpu('0.5'), 0.5);
  assert.is(parseCpu('2'), 2);
  assert.is(parseCpu('500m'), 0.5);
  for (const bad of ['0', '-1', 'one', '1.2.3', '5000']) assert.is(parseCpu(bad), undefined, bad);
  assert.is(parsePlatform('linux/arm64'), 'linux/arm64');
  assert.is(parsePlatform('arm64/v8'), 'linux/arm64');
  assert.is(parsePlatform('arm'), 'linux/arm/v7');
  assert.is(parsePlatform('amd64'), 'linux/amd64');
  assert.is(parsePlatform('windows/amd64'), undefined);
  assert.is(platformOf('aarch64'), 'linux/arm64');
  assert.is(platformOf('armv7'), 'linux/arm/v7');
  assert.is(platformOf('x64'), 'linux/amd64');
  assert.is(platformOf('mips'), null);
});

test.run();
