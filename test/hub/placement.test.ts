import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  parseBytes, parseCpu, parsePlatform, platformOf, rankPlacements, type NodeCapacity, type PlacementAnswer, type PlacementRequest,
} from '../../hub/placement.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** A 4-core, 8 GiB amd64 node using 1 core and 2 GiB: room for most requests. */
const node = (name: string, over: Partial<NodeCapacity> = {}): NodeCapacity => ({
  name, online: true, platform: 'linux/amd64', labels: {}, cpuCores: 4, memoryBytes: 8 * GiB, diskFreeBytes: 100 * GiB,
  usage: { cpuP95Hour: 1, cpuP95Day: 1, memP95Hour: 2 * GiB, memP95Day: 2 * GiB },
  reserved: { cpu: 0, memoryBytes: 0, diskBytes: 0 }, portsInUse: [], images: [], serviceInstances: 0, ...over,
});
const request = (over: Partial<PlacementRequest> = {}): PlacementRequest => ({
  cpu: 0.5, memoryBytes: 256 * MiB, diskBytes: 0, constraints: {}, ports: [], strategy: 'binpack', ...over,
});
const ranked = (a: PlacementAnswer, name: string) => a.ranked.find((r) => r.node === name)!;
const codes = (a: PlacementAnswer, name: string) => ranked(a, name).reasons.map((r) => r.code);
const messages = (a: PlacementAnswer, name: string) => ranked(a, name).reasons.map((r) => r.message);
const order = (a: PlacementAnswer) => a.ranked.map((r) => r.node);
const feasible = (a: PlacementAnswer) => a.ranked.filter((r) => r.feasible).map((r) => r.node);

test('mixed architectures: only nodes that run the asked platform fit; the others say which platform they are', () => {
  const fleet = [
    node('x86'), node('pi4', { platform: 'linux/arm64' }), node('pi3', { platform: 'linux/arm/v7' }),
    node('zero', { platform: 'linux/arm/v6' }), node('new', { platform: null }),
  ];
  const a = rankPlacements(request({ platform: 'linux/arm64' }), fleet);
  assert.ok(a.fits);
  assert.is(a.best, 'pi4');
  assert.equal(feasible(a), ['pi4']);
  assert.equal(messages(a, 'x86'), ['platform linux/amd64, linux/arm64 asked']);
  assert.equal(messages(a, 'pi3'), ['platform linux/arm/v7, linux/arm64 asked']);
  assert.equal(messages(a, 'new'), ['platform unknown (no facts from the agent yet); linux/arm64 asked']);
  assert.is(a.ranked.length, 5, 'every node is in the answer');

  // ARMv7 cores run ARMv6 code; arm64 is not assumed to run 32-bit images.
  const v6 = rankPlacements(request({ platform: 'linux/arm/v6' }), fleet);
  assert.equal(feasible(v6).sort(), ['pi3', 'zero']);
  assert.ok(ranked(v6, 'pi3').notes.includes('linux/arm/v7 runs linux/arm/v6 images'));
  assert.equal(codes(v6, 'pi4'), ['platform']);
  const v7 = rankPlacements(request({ platform: 'linux/arm/v7' }), fleet);
  assert.equal(feasible(v7), ['pi3'], 'a v6 board cannot run v7 code');

  const any = rankPlacements(request(), fleet);
  assert.is(feasible(any).length, 5, 'no platform asked: any platform, even an unknown one');
});

test('a node with several problems lists every one, each naming its figures', () => {
  const a = rankPlacements(request({
    platform: 'linux/arm64', constraints: { group: 'compute', zone: 'a' }, cpu: 4, diskBytes: 10 * GiB,
    ports: [{ port: 8080, protocol: 'tcp' }, { port: 53, protocol: 'udp' }, { port: 53, protocol: 'tcp' }],
  }), [
    node('busy', {
      labels: { group: 'storage' }, diskFreeBytes: 4 * GiB,
      portsInUse: [{ port: 8080, protocol: 'tcp' }, { port: 53, protocol: 'udp' }],
    }),
  ]);
  assert.equal(codes(a, 'busy'), ['platform', 'label', 'label', 'cpu', 'disk', 'port', 'port']);
  assert.equal(messages(a, 'busy'), [
    'platform linux/amd64, linux/arm64 asked',
    'label group=compute missing (node has group=storage)',
    'label zone=a missing (node has no zone label)',
    'needs 4 cores, 2.6 free of 4 after 10% headroom (p95 use 1)',
    'needs 10.0 GiB disk, 4.0 GiB free',
    'port 8080/tcp is in use',
    'port 53/udp is in use',
  ], '53/tcp is free: only the protocol in use conflicts');
  assert.not.ok(a.fits);
  assert.is(a.closest, 'busy');
  assert.is(a.best, null);
  assert.is(a.ranked[0]!.score, 0);
});

test('a full node is rejected for memory with the figures', () => {
  const a = rankPlacements(request({ memoryBytes: 1 * GiB }), [
    node('full', { usage: { cpuP95Hour: 1, memP95Hour: 7 * GiB, memP95Day: 6.5 * GiB } }),
    node('roomy'),
  ]);
  assert.equal(feasible(a), ['roomy']);
  assert.equal(codes(a, 'full'), ['memory']);
  assert.equal(messages(a, 'full'), ['needs 1.0 GiB memory, 205 MiB free of 8.0 GiB after 10% headroom (p95 use 7.0 GiB)']);
  const full = ranked(a, 'full').figures;
  assert.is(full.memoryUsedBytes, 7 * GiB, 'the larger of the hour and the day');
  assert.is(full.memoryUseAfter, 1);
  assert.ok(full.memoryFreeAfterBytes < 0);
  const roomy = ranked(a, 'roomy').figures;
  assert.equal([roomy.cpuUsed, roomy.cpuFreeAfter, roomy.cpuUseAfter], [1, 2.1, 0.375]);
  assert.is(roomy.memoryUsedBytes, 2 * GiB);
  assert.is(roomy.memoryFreeAfterBytes, 8 * GiB * 0.9 - 3 * GiB);
  assert.is(roomy.diskFreeAfterBytes, 100 * GiB);
});

test('reservations of recent deploys count on top of the samples, for CPU, memory and disk', () => {
  const a = rankPlacements(request({ cpu: 1, memoryBytes: 1 * GiB, diskBytes: 5 * GiB }), [
    node('reserved', { diskFreeBytes: 8 * GiB, reserved: { cpu: 2, memoryBytes: 5 * GiB, diskBytes: 4 * GiB } }),
    node('plain', { diskFreeBytes: 8 * GiB }),
  ]);
  assert.equal(feasible(a), ['plain']);
  assert.equal(messages(a, 'reserved'), [
    'needs 1 core, 0.6 free of 4 after 10% headroom (p95 use 1 + 2 held by recent deploys)',
    'needs 1.0 GiB memory, 205 MiB free of 8.0 GiB after 10% headroom (p95 use 2.0 GiB + 5.0 GiB held by recent deploys)',
    'needs 5.0 GiB disk, 4.0 GiB free (4.0 GiB of 8.0 GiB held by recent deploys)',
  ]);
  const r = ranked(a, 'reserved');
  assert.equal([r.figures.cpuUsed, r.figures.memoryUsedBytes, r.figures.diskFreeAfterBytes], [3, 7 * GiB, -1 * GiB]);
  assert.ok(r.notes.includes('recent deploys hold 2 cores, 5.0 GiB memory, 4.0 GiB disk'));
  assert.is(ranked(a, 'plain').figures.diskFreeAfterBytes, 3 * GiB);
});

test('the day\'s p95 counts when it is higher than the hour\'s, and the hour\'s alone when the day has none', () => {
  const a = rankPlacements(request({ cpu: 2 }), [
    node('spiky', { usage: { cpuP95Hour: 0.2, cpuP95Day: 1.8, memP95Hour: GiB, memP95Day: GiB } }),
    node('fresh', { usage: { cpuP95Hour: 0.7, memP95Hour: GiB } }),
  ]);
  assert.equal(codes(a, 'spiky'), ['cpu']);
  assert.is(ranked(a, 'spiky').figures.cpuUsed, 1.8);
  assert.is(ranked(a, 'fresh').figures.cpuUsed, 0.7);
  assert.ok(ranked(a, 'fresh').feasible);
});

test('the week\'s p95 counts when it is the highest, and the reason and notes say it was the week', () => {
  const quiet = { cpuP95Hour: 0.5, cpuP95Day: 0.5, memP95Hour: GiB, memP95Day: GiB };
  const a = rankPlacements(request({ cpu: 1, memoryBytes: 2 * GiB }), [
    node('weekly', { usage: { ...quiet, cpuP95Week: 3.2, memP95Week: 6 * GiB } }),
    node('steady', { usage: { ...quiet, cpuP95Week: 0.5, memP95Week: GiB } }),
    node('back', { usage: { cpuP95Week: 1.5, memP95Week: 3 * GiB } }),
  ]);
  assert.equal(codes(a, 'weekly'), ['cpu', 'memory']);
  assert.equal(messages(a, 'weekly'), [
    'needs 1 core, 0.4 free of 4 after 10% headroom (p95 use 3.2 over the last week)',
    'needs 2.0 GiB memory, 1.2 GiB free of 8.0 GiB after 10% headroom (p95 use 6.0 GiB over the last week)',
  ]);
  const w = ranked(a, 'weekly').figures;
  assert.equal([w.cpuUsed, w.cpuUsedOver, w.memoryUsedBytes, w.memoryUsedOver], [3.2, 'week', 6 * GiB, 'week']);
  assert.ok(ranked(a, 'weekly').notes.includes('CPU counted at its p95 over the last week (3.2 cores, above the last hour\'s 0.5 cores)'));
  const s = ranked(a, 'steady');
  assert.ok(s.feasible);
  assert.equal([s.figures.cpuUsed, s.figures.cpuUsedOver], [0.5, 'hour'], 'a tie goes to the hour');
  assert.not.ok(s.notes.some((x) => x.includes('counted at its p95')));
  // Back after two days away: nothing in the last day, but the week still says what it uses.
  const b = ranked(a, 'back');
  assert.equal([b.figures.cpuUsed, b.figures.cpuUsedOver, b.figures.memoryUsedBytes], [1.5, 'week', 3 * GiB]);
  assert.not.ok(b.notes.some((x) => x.startsWith('no samples yet')));
  assert.is(a.best, 'back', 'binpack: the fuller of the two that fit');
});

test('without samples: an online node counts its use as 0 with a note; offline or sizeless, its capacity is unknown', () => {
  const a = rankPlacements(request(), [
    node('new', { usage: {} }),
    node('half-new', { usage: { cpuP95Hour: 1 } }),
    node('gone', { online: false, usage: {} }),
    node('nofacts', { cpuCores: 0, memoryBytes: 0, platform: null, usage: {} }),
  ]);
  assert.equal(feasible(a), ['half-new', 'new'], 'binpack: half-new is fuller, its CPU being measured');
  assert.ok(ranked(a, 'new').notes.includes('no samples yet for CPU or memory in the last week: use counted as 0'));
  assert.is(ranked(a, 'new').figures.cpuUsed, 0);
  assert.ok(ranked(a, 'half-new').notes.includes('no samples yet for memory in the last week: use counted as 0'));
  assert.equal(codes(a, 'gone'), ['offline', 'unknown-capacity']);
  assert.equal(messages(a, 'gone')[1], 'use unknown: no samples in the last week and the node is offline');
  assert.equal(codes(a, 'nofacts'), ['unknown-capacity']);
  assert.equal(messages(a, 'nofacts'), ['size unknown: no CPU count or memory size from the agent yet']);
  assert.equal(codes(rankPlacements(request(), [node('gone-sampled', { online: false })]), 'gone-sampled'), ['offline'],
    'an offline node with samples is out for being offline only');
});

test('binpack fills the fullest node that fits; spread takes the emptiest, on the same fleet', () => {
  const fleet = [
    node('empty', { usage: { cpuP95Hour: 0.2, memP95Hour: 0.5 * GiB } }),
    node('half', { usage: { cpuP95Hour: 2, memP95Hour: 4 * GiB } }),
    node('full', { usage: { cpuP95Hour: 3.5, memP95Hour: 7.5 * GiB } }),
  ];
  const bin = rankPlacements(request(), fleet);
  assert.is(bin.best, 'half');
  assert.equal(order(bin), ['half', 'empty', 'full']);
  assert.equal(codes(bin, 'full'), ['cpu', 'memory']);
  // Fullness is the larger of the CPU and memory fractions: half is at 2.5/4 CPU, 4.25/8 memory.
  assert.is(ranked(bin, 'half').score, 62.5);
  assert.is(ranked(bin, 'empty').score, 17.5);
  assert.ok(ranked(bin, 'half').notes.includes('would be 63% CPU, 53% memory after placing'));
  const spread = rankPlacements(request({ strategy: 'spread' }), fleet);
  assert.is(spread.best, 'empty');
  assert.equal(order(spread), ['empty', 'half', 'full']);
  assert.is(ranked(spread, 'empty').score, 82.5);
  assert.is(ranked(spread, 'half').score, 37.5);
});

test('the scarcer resource decides fullness: a node out of memory but idle is full for binpack', () => {
  const a = rankPlacements(request(), [
    node('mem-heavy', { usage: { cpuP95Hour: 0.1, memP95Hour: 6 * GiB } }),
    node('cpu-some', { usage: { cpuP95Hour: 2, memP95Hour: 2 * GiB } }),
  ]);
  assert.equal(order(a), ['mem-heavy', 'cpu-some']);
});

test('spread: fewer instances of the service always win, over emptiness and over a present image', () => {
  const a = rankPlacements(request({ strategy: 'spread', service: 'web', image: 'nginx:1.27' }), [
    node('empty-with-one', { usage: { cpuP95Hour: 0, memP95Hour: 0 }, serviceInstances: 1, images: ['nginx:1.27'] }),
    node('busy-with-none', { usage: { cpuP95Hour: 3, memP95Hour: 6.5 * GiB } }),
    node('idle-with-two', { usage: { cpuP95Hour: 0, memP95Hour: 0 }, serviceInstances: 2, images: ['nginx:1.27'] }),
  ]);
  assert.equal(order(a), ['busy-with-none', 'empty-with-one', 'idle-with-two']);
  assert.ok(ranked(a, 'empty-with-one').notes.includes('1 instance of web already here'));
  assert.ok(ranked(a, 'idle-with-two').notes.includes('2 instances of web already here'));
  // Three tiers: 400 for none, 200 for one, nothing for two; then emptiness and the image bonus.
  assert.is(ranked(a, 'busy-with-none').score, 400 + 12.5);
  assert.is(ranked(a, 'empty-with-one').score, 200 + 100 - 12.5 + 10);
  assert.is(ranked(a, 'idle-with-two').score, 100 - 12.5 + 10);

  const oneTier = rankPlacements(request({ strategy: 'spread', service: 'web' }), [node('a'), node('b', { usage: { cpuP95Hour: 0, memP95Hour: 0 } })]);
  assert.ok(oneTier.ranked.every((r) => r.score >= 0 && r.score <= 110), 'one tier: the score stays in 0..110');

  const binpack = rankPlacements(request({ service: 'web' }), [node('a', { serviceInstances: 3 }), node('b')]);
  assert.is(ranked(binpack, 'a').score, ranked(binpack, 'b').score, 'binpack does not look at instances');
});

test('spread by a label counts instances per label value across the fleet, then per node', () => {
  const fleet = [
    node('a1', { labels: { zone: 'a' }, serviceInstances: 1 }),
    node('a2', { labels: { zone: 'a' }, usage: { cpuP95Hour: 0, memP95Hour: 0 } }),
    node('b1', { labels: { zone: 'b' }, usage: { cpuP95Hour: 2, memP95Hour: 4 * GiB } }),
    node('b2', { labels: { zone: 'b' }, online: false, serviceInstances: 1 }),
    node('c1', { labels: { zone: 'c' }, usage: { cpuP95Hour: 3, memP95Hour: 6 * GiB } }),
    node('c2', { labels: { zone: 'c' }, usage: { cpuP95Hour: 3, memP95Hour: 6 * GiB }, serviceInstances: 2 }),
    node('nozone', { usage: { cpuP95Hour: 3.1, memP95Hour: 6 * GiB } }),
  ];
  const a = rankPlacements(request({ strategy: 'spread', spreadBy: 'zone', service: 'web' }), fleet);
  // Group instances: '' 0, a 1, b 1 (the offline node's instance still counts), c 2.
  assert.equal(order(a), ['nozone', 'a2', 'b1', 'a1', 'c1', 'c2', 'b2']);
  assert.is(a.best, 'nozone', 'a node without the label is a group of its own, and that group has no instance');
  assert.ok(ranked(a, 'a2').notes.includes('1 instance of web in zone=a'));
  assert.ok(ranked(a, 'nozone').notes.includes('0 instances of web in zone=(none)'));
  assert.ok(ranked(a, 'c2').notes.includes('2 instances of web already here'));

  const noLabelless = rankPlacements(request({ strategy: 'spread', spreadBy: 'zone', service: 'web' }), fleet.filter((n) => n.name !== 'nozone'));
  assert.is(noLabelless.best, 'a2', 'zones a and b tie; a2 has no instance itself and is emptier than b1');
  assert.equal(noLabelless.warnings, []);
});

test('spreadBy that cannot work says so instead of being ignored silently', () => {
  const bin = rankPlacements(request({ spreadBy: 'zone', service: 'web' }), [node('n')]);
  assert.equal(bin.warnings, ['spreadBy zone has no effect with the binpack strategy; ask for spread']);
  const noService = rankPlacements(request({ strategy: 'spread', spreadBy: 'zone' }), [node('n')]);
  assert.equal(noService.warnings, ['spreadBy zone needs the service to count its instances; nodes ranked by emptiness only']);
});

test('an image already on a node breaks a tie, in both strategies', () => {
  for (const strategy of ['binpack', 'spread'] as const) {
    const a = rankPlacements(request({ image: 'busybox', strategy }), [node('cold'), node('warm', { images: ['docker.io/library/busybox:latest'] })]);
    assert.is(a.best, 'warm', strategy);
    assert.ok(ranked(a, 'warm').notes.includes('image already present'));
    assert.ok(ranked(a, 'warm').figures.imagePresent);
    assert.not.ok(ranked(a, 'cold').figures.imagePresent);
    assert.is(ranked(a, 'warm').score - ranked(a, 'cold').score, 10);
  }
  const tag = rankPlacements(request({ image: 'busybox:1.36' }), [node('old', { images: ['busybox:1.35'] })]);
  assert.not.ok(tag.ranked[0]!.figures.imagePresent, 'another tag is another image');
});

test('equal nodes rank by name, whatever order they come in', () => {
  const names = ['n3', 'n1', 'n2'];
  const a = rankPlacements(request(), names.map((n) => node(n)));
  const b = rankPlacements(request(), [...names].reverse().map((n) => node(n)));
  assert.equal(order(a), ['n1', 'n2', 'n3']);
  assert.equal(order(b), ['n1', 'n2', 'n3']);
  const out = rankPlacements(request({ cpu: 8 }), names.map((n) => node(n)));
  assert.equal(order(out), ['n1', 'n2', 'n3']);
});

test('offline nodes and disk: every reason, hard reasons ranked after resource shortfalls', () => {
  const a = rankPlacements(request({ diskBytes: 50 * GiB, memoryBytes: 7 * GiB }), [
    node('gone', { online: false }),
    node('small-disk', { diskFreeBytes: 20 * GiB }),
    node('unknown-disk', { diskFreeBytes: null }),
  ]);
  assert.not.ok(a.fits);
  assert.equal(codes(a, 'gone'), ['offline', 'memory']);
  assert.equal(codes(a, 'small-disk'), ['memory', 'disk']);
  assert.equal(codes(a, 'unknown-disk'), ['memory', 'disk']);
  assert.equal(messages(a, 'unknown-disk')[1], 'needs 50.0 GiB disk; free disk unknown (no sample yet)');
  assert.is(ranked(a, 'unknown-disk').figures.diskFreeAfterBytes, null);
  // small-disk is short 30 of 50 GiB asked (0.6); unknown disk counts as short by all of it (1).
  assert.equal(order(a), ['small-disk', 'unknown-disk', 'gone']);
  assert.is(a.closest, 'small-disk');
  assert.equal(codes(rankPlacements(request(), [node('d', { diskFreeBytes: null })]), 'd'), [], 'unknown disk is no reason when no disk is asked');
});

test('nothing fits: fits is false, the closest node is named, and a warning says why', () => {
  const edge = { group: 'edge' };
  const fleet = [
    node('far', { labels: edge, usage: { cpuP95Hour: 3.9, memP95Hour: 2 * GiB } }),
    node('wrong-label', { labels: { group: 'core' }, usage: { cpuP95Hour: 0, memP95Hour: 0 } }),
    node('near', { labels: edge, usage: { cpuP95Hour: 3.5, memP95Hour: 2 * GiB } }),
    node('offline-empty', { labels: edge, online: false, usage: { cpuP95Hour: 0, memP95Hour: 0 } }),
  ];
  const a = rankPlacements(request({ cpu: 1, constraints: edge }), fleet);
  assert.not.ok(a.fits);
  assert.is(a.best, null);
  assert.is(a.closest, 'near');
  // near would be 0.9 of 4 cores over its limit, far 1.3: the smaller shortfall is closer; hard reasons come last.
  assert.equal(order(a), ['near', 'far', 'offline-empty', 'wrong-label']);
  assert.ok(a.ranked.every((r) => !r.feasible && r.score === 0));
  assert.equal(a.warnings, ['nothing fits; the closest node is near: needs 1 core, 0.1 free of 4 after 10% headroom (p95 use 3.5)']);
});

test('force over-commits the closest node it can, with a warning naming the over-commit; never past a hard reason', () => {
  const fleet = [
    node('n1', { usage: { cpuP95Hour: 3.5, memP95Hour: 2 * GiB } }),
    node('n2', { usage: { cpuP95Hour: 3.9, memP95Hour: 2 * GiB } }),
    node('port-taken', { usage: { cpuP95Hour: 0, memP95Hour: 0 }, portsInUse: [{ port: 80, protocol: 'tcp' }] }),
  ];
  const forced = rankPlacements(request({ cpu: 1, ports: [{ port: 80, protocol: 'tcp' }] }), fleet, { force: true });
  assert.not.ok(forced.fits);
  assert.is(forced.best, 'n1');
  assert.is(forced.closest, 'n1');
  assert.equal(forced.warnings, ['nothing fits; --force over-commits n1: CPU 113% after placing (needs 1 core, 0.1 free of 4 after 10% headroom (p95 use 3.5))']);

  const memory = rankPlacements(request({ memoryBytes: 8 * GiB }), [node('m')], { force: true });
  assert.is(memory.best, 'm');
  assert.match(memory.warnings[0]!, /^nothing fits; --force over-commits m: memory 125% after placing \(needs 8\.0 GiB memory/);

  const port = rankPlacements(request({ ports: [{ port: 80, protocol: 'tcp' }] }), [node('web', { portsInUse: [{ port: 80, protocol: 'tcp' }] })], { force: true });
  assert.is(port.best, null);
  assert.is(port.closest, 'web');
  assert.equal(port.warnings, ['nothing fits, and --force cannot help: the closest node, web, is out for reasons over-committing does not fix: port 80/tcp is in use (a container cannot start without its host port)']);

  for (const hard of [node('off', { online: false, cpuCores: 1 }), node('arm', { platform: 'linux/arm64', cpuCores: 1 }), node('lbl', { cpuCores: 1 })]) {
    const a = rankPlacements(request({ platform: 'linux/amd64', constraints: { role: 'x' } }), [hard], { force: true });
    assert.is(a.best, null, hard.name);
    assert.match(a.warnings[0]!, /--force cannot help/);
  }

  const fits = rankPlacements(request(), [node('ok'), node('other')], { force: true });
  assert.equal(fits, rankPlacements(request(), [node('ok'), node('other')]), 'force changes nothing when something fits');
  assert.equal(fits.warnings, []);
});

test('headroom is an option: without it a node fits up to its whole size', () => {
  const n = node('tight', { usage: { cpuP95Hour: 3, memP95Hour: 2 * GiB } });
  assert.equal(codes(rankPlacements(request({ cpu: 0.8 }), [n]), 'tight'), ['cpu']);
  assert.ok(rankPlacements(request({ cpu: 0.8 }), [n], { headroom: 0 }).fits);
  assert.match(messages(rankPlacements(request({ cpu: 0.8 }), [n], { headroom: 0.25 }), 'tight')[0]!, /after 25% headroom/);
});

test('no nodes at all is an answer, not a crash', () => {
  const a = rankPlacements(request(), []);
  assert.equal([a.fits, a.best, a.closest, a.ranked.length], [false, null, null, 0]);
  assert.equal(a.warnings, ['no nodes known: join one with muster agent --hub URL --join TOKEN']);
  assert.equal(rankPlacements(request(), [], { force: true }).best, null);
});

test('sizes parse the way docker reads them; nonsense does not', () => {
  assert.is(parseBytes('256M'), 256 * MiB);
  assert.is(parseBytes('256m'), 256 * MiB);
  assert.is(parseBytes('1G'), GiB);
  assert.is(parseBytes('512Mi'), 512 * MiB);
  assert.is(parseBytes('1.5GiB'), 1.5 * GiB);
  assert.is(parseBytes('2gb'), 2 * GiB);
  assert.is(parseBytes('1T'), 1024 * GiB);
  assert.is(parseBytes('64k'), 64 * 1024);
  assert.is(parseBytes('1048576'), MiB);
  assert.is(parseBytes(' 1 G '), GiB);
  assert.is(parseBytes('0'), 0);
  for (const bad of ['', ' ', 'M', '-1G', '1X', '1 G B', 'lots', '1.G', '.5G', '1e9', '1,5G', 'G1', '1PB', '99999999999T']) {
    assert.is(parseBytes(bad), undefined, bad);
  }
});

test('cores parse as decimals or millicores; zero, negative and nonsense do not', () => {
  assert.is(parseCpu('0.5'), 0.5);
  assert.is(parseCpu('2'), 2);
  assert.is(parseCpu('500m'), 0.5);
  assert.is(parseCpu('1500m'), 1.5);
  for (const bad of ['', '0', '0m', '-1', 'one', '1.2.3', '5000', '500M', '1 core', 'm']) assert.is(parseCpu(bad), undefined, bad);
});

test('platforms normalise to linux/ARCH[/VARIANT]; architectures map the way the agent and the kernel name them', () => {
  assert.is(parsePlatform('linux/arm64'), 'linux/arm64');
  assert.is(parsePlatform('linux/arm64/v8'), 'linux/arm64');
  assert.is(parsePlatform('arm64/v8'), 'linux/arm64');
  assert.is(parsePlatform('arm'), 'linux/arm/v7');
  assert.is(parsePlatform('linux/arm'), 'linux/arm/v7');
  assert.is(parsePlatform('linux/arm/v6'), 'linux/arm/v6');
  assert.is(parsePlatform('amd64'), 'linux/amd64');
  assert.is(parsePlatform('Linux/AMD64'), 'linux/amd64');
  assert.is(parsePlatform('linux/386'), 'linux/386');
  for (const bad of ['', 'windows/amd64', 'darwin/arm64', 'linux/', 'linux/sparc', 'linux/arm/v9']) assert.is(parsePlatform(bad), undefined, bad);

  const arch: [string, string | null][] = [
    ['amd64', 'linux/amd64'], ['x64', 'linux/amd64'], ['x86_64', 'linux/amd64'],
    ['arm64', 'linux/arm64'], ['aarch64', 'linux/arm64'],
    ['armv7', 'linux/arm/v7'], ['armhf', 'linux/arm/v7'], ['armv7l', 'linux/arm/v7'],
    ['armv6', 'linux/arm/v6'], ['armv6l', 'linux/arm/v6'],
    ['386', 'linux/386'], ['i686', 'linux/386'], ['riscv64', 'linux/riscv64'],
    ['mips', null], ['', null], ['sparc64', null],
  ];
  for (const [a, p] of arch) assert.is(platformOf(a), p, a);
});

test('a request for no CPU or memory fits a busy node: it asked for nothing', () => {
  const busy = { name: 'busy', online: true, platform: 'linux/amd64', labels: {}, cpuCores: 2, memoryBytes: 1024 ** 3, diskFreeBytes: null,
    usage: { cpuP95Hour: 1.99, memP95Hour: 1024 ** 3 }, reserved: { cpu: 0, memoryBytes: 0, diskBytes: 0 }, portsInUse: [], images: [], serviceInstances: 0 };
  const a = rankPlacements({ cpu: 0, memoryBytes: 0, diskBytes: 0, constraints: {}, ports: [], strategy: 'binpack' }, [busy]);
  assert.ok(a.fits, JSON.stringify(a.ranked[0]!.reasons));
  const b = rankPlacements({ cpu: 0.5, memoryBytes: 0, diskBytes: 0, constraints: {}, ports: [], strategy: 'binpack' }, [busy]);
  assert.equal(b.ranked[0]!.reasons.map((r) => r.code), ['cpu']);
});

test.run();
