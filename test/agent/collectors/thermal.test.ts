import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createTemperatureReader, discoverSensors, hwmonSensor, isQuietSensorError, parseMillidegrees, thermalZoneSensor,
} from '../../../agent/collectors/thermal.ts';

const PI = fileURLToPath(new URL('../../fixtures/host/pi', import.meta.url));

async function withRoot(files: Record<string, string>, run: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'muster-thermal-'));
  try {
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), text);
    }
    await run(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

test('millidegrees -> degrees Celsius', () => {
  assert.is(parseMillidegrees('48312\n'), 48.312);
  assert.is(parseMillidegrees('-5000'), -5);
  assert.throws(() => parseMillidegrees('hot'), /not a temperature/);
});

test('sensor names', () => {
  assert.is(thermalZoneSensor('thermal_zone0', 'cpu-thermal\n'), 'thermal/cpu-thermal/0');
  assert.is(hwmonSensor('coretemp', 'temp2_input'), 'hwmon/coretemp/temp2');
});

test('Raspberry Pi: the SoC zone and its hwmon twin; cooling devices and voltage chips ignored', async () => {
  assert.equal(await discoverSensors(PI), {
    sensors: [
      { sensor: 'thermal/cpu-thermal/0', path: '/sys/class/thermal/thermal_zone0/temp' },
      { sensor: 'hwmon/cpu_thermal/temp1', path: '/sys/class/hwmon/hwmon0/temp1_input' },
    ],
    failures: [],
  });
  assert.equal(await createTemperatureReader({ root: PI }).read(), {
    temperatures: [{ sensor: 'thermal/cpu-thermal/0', celsius: 48.312 }, { sensor: 'hwmon/cpu_thermal/temp1', celsius: 48.312 }],
    failures: [],
  });
});

test('a VM without /sys/class/hwmon or thermal zones: no temperatures, no failure', async () => {
  await withRoot({}, async (root) => {
    assert.equal(await createTemperatureReader({ root }).read(), { temperatures: [], failures: [] });
  });
});

test('chips sharing a name are told apart by the device they sit on', async () => {
  await withRoot({
    'sys/class/hwmon/hwmon2/name': 'nvme\n',
    'sys/class/hwmon/hwmon2/temp1_input': '38850\n',
    'sys/class/hwmon/hwmon10/name': 'nvme\n',
    'sys/class/hwmon/hwmon10/temp1_input': '41850\n',
    'sys/class/hwmon/hwmon10/temp2_input': '45850\n',
    'sys/class/hwmon/hwmon3/name': 'coretemp\n',
    'sys/class/hwmon/hwmon3/temp10_input': '50000\n',
    'sys/class/hwmon/hwmon3/temp2_input': '51000\n',
    'sys/devices/nvme0/.keep': '',
  }, async (root) => {
    await symlink(join(root, 'sys/devices/nvme0'), join(root, 'sys/class/hwmon/hwmon2/device'));
    const { sensors } = await discoverSensors(root);
    assert.equal(sensors.map((s) => s.sensor), [
      'hwmon/nvme@nvme0/temp1', 'hwmon/coretemp/temp2', 'hwmon/coretemp/temp10', 'hwmon/nvme@hwmon10/temp1', 'hwmon/nvme@hwmon10/temp2',
    ]);
  });
});

test('idle or vanished sensors are skipped quietly; unreadable ones are reported', () => {
  for (const code of ['ENOENT', 'ENODEV', 'ENODATA', 'EAGAIN', 'EINVAL', 'EIO']) assert.ok(isQuietSensorError({ code }), code);
  for (const code of ['EACCES', 'EPERM']) assert.not.ok(isQuietSensorError({ code }), code);
  assert.not.ok(isQuietSensorError(new Error('not a temperature')));
});

test('a vanished sensor triggers rediscovery, which finds new ones', async () => {
  await withRoot({
    'sys/class/thermal/thermal_zone0/type': 'acpitz\n',
    'sys/class/thermal/thermal_zone0/temp': '27800\n',
  }, async (root) => {
    const reader = createTemperatureReader({ root, rediscoverEvery: 1000 });
    assert.equal((await reader.read()).temperatures, [{ sensor: 'thermal/acpitz/0', celsius: 27.8 }]);
    await rm(join(root, 'sys/class/thermal/thermal_zone0'), { recursive: true });
    await mkdir(join(root, 'sys/class/thermal/thermal_zone1'));
    await writeFile(join(root, 'sys/class/thermal/thermal_zone1/type'), 'x86_pkg_temp\n');
    await writeFile(join(root, 'sys/class/thermal/thermal_zone1/temp'), '45000\n');
    assert.equal(await reader.read(), { temperatures: [], failures: [] });
    assert.equal((await reader.read()).temperatures, [{ sensor: 'thermal/x86_pkg_temp/1', celsius: 45 }]);
  });
});

test('a sensor that reads garbage is reported and the others still read', async () => {
  await withRoot({
    'sys/class/thermal/thermal_zone0/type': 'acpitz\n',
    'sys/class/thermal/thermal_zone0/temp': 'N/A\n',
    'sys/class/thermal/thermal_zone1/type': 'x86_pkg_temp\n',
    'sys/class/thermal/thermal_zone1/temp': '45000\n',
  }, async (root) => {
    const { temperatures, failures } = await createTemperatureReader({ root }).read();
    assert.equal(temperatures, [{ sensor: 'thermal/x86_pkg_temp/1', celsius: 45 }]);
    assert.is(failures.length, 1);
    assert.match(failures[0] ?? '', /thermal_zone0\/temp: not a temperature/);
  });
});

test.run();
