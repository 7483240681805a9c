import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { archFacts } from '../../../agent/collectors/arch.ts';

test('Node arch names -> Docker/OCI platform names', () => {
  assert.equal(archFacts('x64', undefined), { arch: 'amd64', platform: 'linux/amd64' });
  assert.equal(archFacts('arm64', 'v8'), { arch: 'arm64', platform: 'linux/arm64' });
  assert.equal(archFacts('ia32', undefined), { arch: '386', platform: 'linux/386' });
  assert.equal(archFacts('ppc64', undefined), { arch: 'ppc64le', platform: 'linux/ppc64le' });
  assert.equal(archFacts('riscv64', undefined), { arch: 'riscv64', platform: 'linux/riscv64' });
  assert.equal(archFacts('s390x', undefined), { arch: 's390x', platform: 'linux/s390x' });
});

test('32-bit ARM: the CPU decides v6 or v7, a v8 core under a 32-bit runtime runs v7 images', () => {
  assert.equal(archFacts('arm', 'v7', '7'), { arch: 'armv7', platform: 'linux/arm/v7' });
  assert.equal(archFacts('arm', 'v8', '7'), { arch: 'armv7', platform: 'linux/arm/v7' });
  assert.equal(archFacts('arm', 'v6', '7'), { arch: 'armv6', platform: 'linux/arm/v6' });
});

test('32-bit ARM without cpuinfo: the level Node was built for, else v7', () => {
  assert.equal(archFacts('arm', undefined, '6'), { arch: 'armv6', platform: 'linux/arm/v6' });
  assert.equal(archFacts('arm', undefined), { arch: 'armv7', platform: 'linux/arm/v7' });
});

test('an architecture without a mapping passes through', () => {
  assert.equal(archFacts('sparc', undefined), { arch: 'sparc', platform: 'linux/sparc' });
});

test.run();
