import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createFilesystemReader, fromStatfs, type StatfsResult } from '../../../agent/collectors/filesystems.ts';

const PI = fileURLToPath(new URL('../../fixtures/host/pi', import.meta.url));

// statfs("/") recorded on the Debian VM (ext4 with a large reserve for root).
const RECORDED: StatfsResult = { bsize: 4096, frsize: 4096, blocks: 66053021, bfree: 60203594, bavail: 20748301, files: 16777216, ffree: 16364354 };

test('statfs -> bytes, counted in fundamental blocks', () => {
  assert.equal(fromStatfs(RECORDED), {
    sizeBytes: 66053021 * 4096, freeBytes: 60203594 * 4096, availBytes: 20748301 * 4096, files: 16777216, filesFree: 16364354,
  });
  assert.is(fromStatfs({ ...RECORDED, bsize: 1048576, frsize: 4096 }).sizeBytes, 66053021 * 4096);
  const { frsize: _, ...noFrsize } = RECORDED;
  assert.is(fromStatfs(noFrsize).sizeBytes, 66053021 * 4096);
});

test('Raspberry Pi fixture: every selected mount measured', async () => {
  const { filesystems, failures } = await createFilesystemReader({ root: PI }).read();
  assert.equal(failures, []);
  assert.equal(filesystems.map((f) => f.mountpoint), ['/', '/run', '/run/lock', '/boot/firmware', '/run/user/1000', '/media/pi/USB STICK']);
  for (const f of filesystems) assert.ok(f.sizeBytes > 0 && f.availBytes <= f.freeBytes && f.freeBytes <= f.sizeBytes, f.mountpoint);
});

test('a mount point that cannot be measured is a failure; the others are still reported', async () => {
  const root = await mkdtemp(join(tmpdir(), 'muster-fs-'));
  try {
    await mkdir(join(root, 'proc'));
    await writeFile(join(root, 'proc/mounts'), '/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /gone ext4 rw 0 0\n');
    const { filesystems, failures } = await createFilesystemReader({ root }).read();
    assert.equal(filesystems.map((f) => f.mountpoint), ['/']);
    assert.equal(failures, ['/gone: ENOENT']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a mount table that changes between samples is read afresh', async () => {
  const root = await mkdtemp(join(tmpdir(), 'muster-fs-'));
  try {
    await mkdir(join(root, 'proc'));
    await mkdir(join(root, 'data'));
    await writeFile(join(root, 'proc/mounts'), '/dev/sda1 / ext4 rw 0 0\n');
    const reader = createFilesystemReader({ root, statfs: () => Promise.resolve(RECORDED) });
    assert.equal((await reader.read()).filesystems.map((f) => f.mountpoint), ['/']);
    assert.equal((await reader.read()).filesystems.map((f) => f.mountpoint), ['/']);
    await writeFile(join(root, 'proc/mounts'), '/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /data xfs rw 0 0\n');
    assert.equal((await reader.read()).filesystems.map((f) => [f.mountpoint, f.fstype]), [['/', 'ext4'], ['/data', 'xfs']]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a hanging statfs times out, is skipped while stuck, and comes back when it returns', async () => {
  let release: ((s: StatfsResult) => void) | undefined;
  let calls = 0;
  const statfs = (path: string): Promise<StatfsResult> => {
    if (!path.endsWith('/nas') || release !== undefined) return Promise.resolve(RECORDED);
    calls++;
    return new Promise((resolve) => { release = resolve; });
  };
  const root = await mkdtemp(join(tmpdir(), 'muster-fs-'));
  try {
    await mkdir(join(root, 'proc'));
    await writeFile(join(root, 'proc/mounts'), '/dev/sda1 / ext4 rw 0 0\nnas:/vol /nas nfs4 rw 0 0\n');
    const reader = createFilesystemReader({ root, statfs, timeoutMs: 20 });
    let r = await reader.read();
    assert.equal(r.filesystems.map((f) => f.mountpoint), ['/']);
    assert.match(r.failures.join(), /\/nas: statfs timed out after 20 ms/);
    r = await reader.read();
    assert.match(r.failures.join(), /\/nas: statfs still blocked/);
    assert.is(calls, 1, 'no second thread is spent on a stuck mount');
    assert.ok(release, 'statfs was called');
    release(RECORDED);
    await new Promise((resolve) => setImmediate(resolve));
    r = await reader.read();
    assert.equal(r.failures, []);
    assert.equal(r.filesystems.map((f) => f.mountpoint), ['/', '/nas']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test.run();
