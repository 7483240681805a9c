import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseMachineId, readMachineId } from '../../../agent/collectors/machine-id.ts';

const fixture = (path: string): string => readFileSync(new URL(`../../fixtures/host/${path}`, import.meta.url), 'utf8');

test('parses a machine-id file', () => {
  assert.is(parseMachineId(fixture('pi/etc/machine-id')), '7c2f4e9a1b3d4c5e8f6a0b1c2d3e4f5a');
});

test('an empty or uninitialized id is not an identity', () => {
  assert.throws(() => parseMachineId(''), /32 hex/);
  assert.throws(() => parseMachineId('uninitialized\n'), /32 hex/);
});

test('falls back to the D-Bus copy when /etc/machine-id is missing or uninitialized', async () => {
  const root = await mkdtemp(join(tmpdir(), 'muster-mid-'));
  try {
    await mkdir(join(root, 'var/lib/dbus'), { recursive: true });
    await writeFile(join(root, 'var/lib/dbus/machine-id'), 'ABCDEF0123456789abcdef0123456789\n');
    assert.is(await readMachineId(root), 'abcdef0123456789abcdef0123456789');
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc/machine-id'), 'uninitialized\n');
    assert.is(await readMachineId(root), 'abcdef0123456789abcdef0123456789');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('when both are missing the error names /etc/machine-id', async () => {
  const root = await mkdtemp(join(tmpdir(), 'muster-mid-'));
  try {
    const err = await readMachineId(root).then(() => undefined, (e: unknown) => e);
    assert.instance(err, Error);
    assert.match(String(err), /etc\/machine-id/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test.run();
