import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseMounts, selectFilesystems, unescapeMountField } from '../../../agent/collectors/mounts.ts';

const fixture = (path: string): string => readFileSync(new URL(`../../fixtures/host/${path}`, import.meta.url), 'utf8');

test('recorded Debian VM: the root disk and the one tmpfs outside /dev and /sys', () => {
  const all = parseMounts(fixture('debian-vm/proc/mounts'));
  assert.is(all.length, 20);
  assert.equal(all[5], { device: '/dev/vda', mountpoint: '/', fstype: 'ext4' });
  assert.equal(selectFilesystems(all), [
    { device: '/dev/vda', mountpoint: '/', fstype: 'ext4' },
    { device: 'model_tools_unavailable', mountpoint: '/mnt/sandboxing/model_tools_env/v1/python', fstype: 'tmpfs' },
  ]);
});

test('Raspberry Pi: pseudo filesystems, Docker layers and bind mounts dropped; tmpfs kept', () => {
  const picked = selectFilesystems(parseMounts(fixture('pi/proc/mounts')));
  assert.equal(picked.map((m) => m.mountpoint), ['/', '/run', '/run/lock', '/boot/firmware', '/run/user/1000', '/media/pi/USB STICK']);
  assert.is(picked.find((m) => m.mountpoint === '/')?.device, '/dev/mmcblk0p2');
  assert.is(picked.find((m) => m.mountpoint === '/boot/firmware')?.fstype, 'vfat');
});

test('a mount point mounted over reports the visible (last) mount', () => {
  const picked = selectFilesystems(parseMounts('/dev/sdb1 /data ext4 rw 0 0\n/dev/sdc1 /data xfs rw 0 0\n'));
  assert.equal(picked, [{ device: '/dev/sdc1', mountpoint: '/data', fstype: 'xfs' }]);
});

test('a bind mount listed before its source keeps the shorter mount point', () => {
  const picked = selectFilesystems(parseMounts('/dev/sdb1 /srv/data/www ext4 rw 0 0\n/dev/sdb1 /srv/data ext4 rw 0 0\nnas:/vol /mnt/nas nfs4 rw 0 0\n'));
  assert.equal(picked.map((m) => m.mountpoint), ['/srv/data', '/mnt/nas']);
});

test('octal escapes in mount fields', () => {
  assert.is(unescapeMountField('/media/a\\040b\\011c\\134d'), '/media/a b\tc\\d');
});

test('node_exporter exclusions: /run/credentials, /var/lib/docker/*, containers storage, erofs', () => {
  const text = [
    'tmpfs /run/credentials/systemd-journald.service tmpfs ro 0 0',
    '/dev/sda1 /var/lib/docker/volumes ext4 rw 0 0',
    '/dev/sda2 /var/lib/containers/storage/overlay xfs rw 0 0',
    '/dev/loop0 /snap/core/1 squashfs ro 0 0',
    '/dev/loop1 /usr/lib/img erofs ro 0 0',
    '/dev/sda3 /var/lib/docker ext4 rw 0 0',
  ].join('\n');
  assert.equal(selectFilesystems(parseMounts(text)).map((m) => m.mountpoint), ['/var/lib/docker']);
});

test.run();
