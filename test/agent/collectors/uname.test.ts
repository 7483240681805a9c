import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSysctlValue, readHostname, readKernelRelease } from '../../../agent/collectors/uname.ts';

const PI = fileURLToPath(new URL('../../fixtures/host/pi', import.meta.url));

test('one-value /proc/sys files', () => {
  assert.is(parseSysctlValue('raspberrypi\n'), 'raspberrypi');
  assert.throws(() => parseSysctlValue('\n'), /empty/);
});

test('Raspberry Pi fixture', async () => {
  assert.is(await readHostname(PI), 'raspberrypi');
  assert.is(await readKernelRelease(PI), '6.6.51+rpt-rpi-v7l');
});

test('this host: the same release uname(2) gives', async () => {
  assert.is(await readKernelRelease('/'), release());
});

test.run();
