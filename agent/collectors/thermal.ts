/**
 * Temperatures from the kernel's thermal zones and hwmon chips.
 */
import { basename } from 'node:path';
import type { Temperature } from '../../protocol/messages.ts';
import { errorCode, hostPath, isAbsent, readDir, readLink, readText, reasonOf } from './read.ts';
import { byCodeUnit } from '../compare.ts';

/** A temperature file and the sensor name it is reported under. */
export interface SensorFile {
  /** `thermal/<type>/<zone>` (`thermal/cpu-thermal/0`) or `hwmon/<chip>/<sensor>` (`hwmon/coretemp/temp1`). */
  sensor: string;
  /** Host path of the file holding millidegrees Celsius. */
  path: string;
}

/** Result of one discovery or one reading. */
export interface TemperatureReading {
  temperatures: Temperature[];
  /** One line per sensor or directory that failed for a reason other than absence. */
  failures: string[];
}

/** Parses a sysfs temperature file: integer millidegrees Celsius -> degrees Celsius. */
export function parseMillidegrees(text: string): number {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) throw new Error(`not a temperature: ${JSON.stringify(t.slice(0, 32))}`);
  return Number(t) / 1000;
}

/** Sensor name for a thermal zone: `thermal_zone0` of type `cpu-thermal` -> `thermal/cpu-thermal/0`. */
export function thermalZoneSensor(zoneDir: string, type: string): string {
  return `thermal/${type.trim()}/${zoneDir.replace(/^thermal_zone/, '')}`;
}

/** Sensor name for a hwmon input: chip `coretemp`, file `temp2_input` -> `hwmon/coretemp/temp2`. */
export function hwmonSensor(chip: string, inputFile: string): string {
  return `hwmon/${chip}/${inputFile.replace(/_input$/, '')}`;
}

/**
 * Errors that mean "no reading right now", not "broken": a disk asleep, a GPU
 * powered down, a Wi-Fi zone while the link is down. node_exporter skips these
 * silently too; reporting them would make a healthy host look sick forever.
 */
const TRANSIENT = new Set(['ENODATA', 'EAGAIN', 'EINVAL', 'EIO', 'ETIMEDOUT', 'EBUSY']);

/** True when a sensor read error is expected from a sensor that is gone or idle. */
export function isQuietSensorError(err: unknown): boolean {
  const code = errorCode(err);
  return isAbsent(err) || code === 'ENODEV' || code === 'ENXIO' || (code !== undefined && TRANSIENT.has(code));
}

/** Lists a directory; a missing one is empty (a VM has no sensors). */
async function list(root: string, dir: string): Promise<string[]> {
  try {
    return await readDir(hostPath(root, dir));
  } catch (err) {
    if (isAbsent(err)) return [];
    throw err;
  }
}

async function discoverThermalZones(root: string, failures: string[]): Promise<SensorFile[]> {
  const zones = (await list(root, '/sys/class/thermal')).filter((d) => /^thermal_zone\d+$/.test(d));
  const found = await Promise.all(zones.map(async (zone): Promise<SensorFile | undefined> => {
    const dir = `/sys/class/thermal/${zone}`;
    try {
      return { sensor: thermalZoneSensor(zone, await readText(root, `${dir}/type`)), path: `${dir}/temp` };
    } catch (err) {
      if (!isQuietSensorError(err)) failures.push(reasonOf(err));
      return undefined;
    }
  }));
  return found.filter((s): s is SensorFile => s !== undefined);
}

interface Chip { dir: string; hwmon: string; name: string }

async function readChip(root: string, hwmon: string): Promise<Chip | undefined> {
  // Kernels before 3.x kept the attributes under hwmonN/device/.
  for (const dir of [`/sys/class/hwmon/${hwmon}`, `/sys/class/hwmon/${hwmon}/device`]) {
    try {
      return { dir, hwmon, name: (await readText(root, `${dir}/name`)).trim() };
    } catch (err) {
      if (!isAbsent(err)) throw err;
    }
  }
  return undefined;
}

/**
 * Two chips may share a name (two NVMe drives are both `nvme`); those get the
 * device they sit on appended (`nvme@nvme0`), which survives reboots where the
 * hwmonN numbering may not.
 */
async function chipLabels(root: string, chips: Chip[]): Promise<Map<Chip, string>> {
  const counts = new Map<string, number>();
  for (const c of chips) counts.set(c.name, (counts.get(c.name) ?? 0) + 1);
  const labels = new Map<Chip, string>();
  await Promise.all(chips.map(async (c) => {
    if (counts.get(c.name) === 1) { labels.set(c, c.name); return; }
    let where = c.hwmon;
    try { where = basename(await readLink(hostPath(root, `/sys/class/hwmon/${c.hwmon}/device`))); } catch { /* keep hwmonN */ }
    labels.set(c, `${c.name}@${where}`);
  }));
  return labels;
}

async function discoverHwmon(root: string, failures: string[]): Promise<SensorFile[]> {
  const chips: Chip[] = [];
  for (const hwmon of (await list(root, '/sys/class/hwmon')).filter((d) => /^hwmon\d+$/.test(d)).sort(byNumber)) {
    try {
      const chip = await readChip(root, hwmon);
      if (chip !== undefined) chips.push(chip);
    } catch (err) {
      failures.push(reasonOf(err));
    }
  }
  const labels = await chipLabels(root, chips);
  const perChip = await Promise.all(chips.map(async (c) => {
    const inputs = (await list(root, c.dir)).filter((f) => /^temp\d+_input$/.test(f)).sort(byNumber);
    return inputs.map((f) => ({ sensor: hwmonSensor(labels.get(c) ?? c.name, f), path: `${c.dir}/${f}` }));
  }));
  return perChip.flat();
}

/** Orders `hwmon10` after `hwmon2`. */
function byNumber(a: string, b: string): number {
  return Number(/\d+/.exec(a)?.[0] ?? 0) - Number(/\d+/.exec(b)?.[0] ?? 0) || byCodeUnit(a, b);
}

/** Finds every temperature file under `<root>/sys/class/{thermal,hwmon}`. */
export async function discoverSensors(root: string): Promise<{ sensors: SensorFile[]; failures: string[] }> {
  const failures: string[] = [];
  const lists = await Promise.all([discoverThermalZones, discoverHwmon].map(async (discover) => {
    try {
      return await discover(root, failures);
    } catch (err) {
      failures.push(reasonOf(err));
      return [];
    }
  }));
  return { sensors: lists.flat(), failures };
}

/** Reads the temperatures of a host; see {@link createTemperatureReader}. */
export interface TemperatureReader {
  read(): Promise<TemperatureReading>;
}

/** Options for {@link createTemperatureReader}. */
export interface TemperatureReaderOptions {
  root: string;
  /** Look for new sensors every this many reads (30 = 5 min at the 10 s sample interval). */
  rediscoverEvery?: number;
}

/**
 * Creates a temperature reader. The sensor list is discovered once and reused,
 * so a sample reads one small file per sensor instead of walking sysfs and
 * re-reading every name; it is rebuilt periodically, after a sensor vanished
 * and after a discovery that failed.
 *
 * No sensors is normal (VMs, containers): an empty list, not a failure. Only
 * errors other than absence or a sensor being idle are returned as failures.
 */
export function createTemperatureReader(opts: TemperatureReaderOptions): TemperatureReader {
  const every = Math.max(1, opts.rediscoverEvery ?? 30);
  let sensors: SensorFile[] | undefined;
  let readsSinceDiscovery = 0;

  return {
    async read() {
      const failures: string[] = [];
      if (sensors === undefined || readsSinceDiscovery >= every) {
        const found = await discoverSensors(opts.root);
        failures.push(...found.failures);
        sensors = found.failures.length === 0 ? found.sensors : undefined;
        readsSinceDiscovery = 0;
        if (sensors === undefined) return readAll(found.sensors, failures);
      }
      readsSinceDiscovery++;
      return readAll(sensors, failures);
    },
  };

  async function readAll(list: SensorFile[], failures: string[]): Promise<TemperatureReading> {
    const values = await Promise.all(list.map(async (s): Promise<Temperature | undefined> => {
      try {
        return { sensor: s.sensor, celsius: parseMillidegrees(await readText(opts.root, s.path)) };
      } catch (err) {
        if (isAbsent(err) || errorCode(err) === 'ENODEV') sensors = undefined;
        if (!isQuietSensorError(err)) failures.push(`${s.path}: ${errorCode(err) ?? reasonOf(err)}`);
        return undefined;
      }
    }));
    return { temperatures: values.filter((t): t is Temperature => t !== undefined), failures };
  }
}
