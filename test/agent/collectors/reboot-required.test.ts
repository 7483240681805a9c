import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRebootRequiredPkgs, readRebootRequired } from '../../../agent/collectors/reboot-required.ts';

const PI = fileURLToPath(new URL('../../fixtures/host/pi', import.meta.url));

test('package list: first-seen order, repeats dropped', () => {
  assert.equal(parseRebootRequiredPkgs(readFileSync(join(PI, 'run/reboot-required.pkgs'), 'utf8')), [
    'linux-image-6.6.51+rpt-rpi-v7l', 'raspi-firmware',
  ]);
});

test('Raspberry Pi fixture: reboot pending', async () => {
  assert.equal(await readRebootRequired(PI), { required: true, packages: ['linux-image-6.6.51+rpt-rpi-v7l', 'raspi-firmware'] });
});

test('no flag file: no reboot; flag without a package list: reboot, no packages', async () => {
  const root = await mkdtemp(join(tmpdir(), 'muster-reboot-'));
  try {
    assert.equal(await readRebootRequired(root), { required: false, packages: [] });
    await mkdir(join(root, 'run'));
    await writeFile(join(root, 'run/reboot-required'), '*** System restart required ***\n');
    assert.equal(await readRebootRequired(root), { required: true, packages: [] });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test.run();
