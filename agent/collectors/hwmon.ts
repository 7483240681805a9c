/**
 * node_exporter's `hwmon` collector: every sensor of every hardware monitor
 * chip in /sys/class/hwmon (temperatures, voltages, fans, power...), named
 * and scaled as node_exporter does it, so `node_hwmon_temp_celsius{chip,
 * sensor}` matches on a board of either exporter. A Raspberry Pi has
 * `cpu_thermal` (the SoC) and `rpi_volt` (under-voltage alarm) here.
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { hostPath, listDir, readFileAt } from './read.ts';
import type { MetricWriter } from './metric-writer.ts';
import { NoDataError, type CollectorSpec } from './registry.ts';

/** node_exporter's hwmonSensorTypes: files of other types are ignored. */
const SENSOR_TYPES = new Set(['vrm', 'beep_enable', 'update_interval', 'in', 'cpu', 'fan', 'pwm', 'temp', 'curr', 'power', 'energy', 'humidity', 'intrusion']);
const FILENAME = /^([^0-9]+)([0-9]*)?(_(.+))?$/;

/** Lower case, anything but [a-z0-9:_] made `_`, no `_` at either end. */
export function cleanHwmonName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9:_]/g, '_').replace(/^_+|_+$/g, '');
}

/** Splits a sensor file name (`temp1_crit_alarm`) into type, number and property, or undefined for other files. */
export function explodeSensorFilename(file: string): { type: string; num: number; property: string } | undefined {
  const m = FILENAME.exec(file);
  if (!m) return undefined;
  return { type: m[1]!, num: m[2] ? Number(m[2]) : 0, property: m[4] ?? '' };
}

/** A chip's sensors: sensor (`temp1`) -> property (`input`, `crit`, '' for `pwm1`) -> raw value. */
export type ChipData = Map<string, Map<string, string>>;

/** What a sensor's property becomes: a family name, its help, type and the factor applied to the raw value. */
export function hwmonFamily(sensorType: string, element: string, hasBare: boolean): { name: string; help: string; counter: boolean; scale: number } | undefined {
  const prefix = `node_hwmon_${sensorType}`;
  let name = prefix;
  if (element === 'input') {
    if (hasBare) name += '_input';
  } else if (element !== '') {
    name += `_${cleanHwmonName(element)}`;
  }
  if (element === 'fault' || element === 'alarm') return { name, help: `Hardware sensor ${element} status (${sensorType})`, counter: false, scale: 1 };
  if (element === 'beep') return { name: `${name}_enabled`, help: 'Hardware monitor sensor has beeping enabled', counter: false, scale: 1 };
  if (sensorType === 'in' || sensorType === 'cpu') return { name: `${name}_volts`, help: `Hardware monitor for voltage (${element})`, counter: false, scale: 0.001 };
  if (sensorType === 'temp' && element !== 'type') return { name: `${name}_celsius`, help: `Hardware monitor for temperature (${element === '' ? 'input' : element})`, counter: false, scale: 0.001 };
  if (sensorType === 'curr') return { name: `${name}_amps`, help: `Hardware monitor for current (${element})`, counter: false, scale: 0.001 };
  if (sensorType === 'energy') return { name: `${name}_joule_total`, help: `Hardware monitor for joules used so far (${element})`, counter: true, scale: 1e-6 };
  if (sensorType === 'power' && element === 'accuracy') return { name, help: 'Hardware monitor power meter accuracy, as a ratio', counter: false, scale: 1e-6 };
  if (sensorType === 'power' && (element === 'average_interval' || element === 'average_interval_min' || element === 'average_interval_max')) {
    return { name: `${name}_seconds`, help: `Hardware monitor power usage update interval (${element})`, counter: false, scale: 0.001 };
  }
  if (sensorType === 'power') return { name: `${name}_watt`, help: `Hardware monitor for power usage in watts (${element})`, counter: false, scale: 1e-6 };
  if (sensorType === 'humidity') return { name, help: `Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) (${element})`, counter: false, scale: 1e-6 };
  if (sensorType === 'fan' && (element === 'input' || element === 'min' || element === 'max' || element === 'target')) {
    return { name: `${name}_rpm`, help: `Hardware monitor for fan revolutions per minute (${element})`, counter: false, scale: 1 };
  }
  return { name, help: `Hardware monitor ${sensorType} element ${element}`, counter: false, scale: 1 };
}

/** Writes one chip's families, as node_exporter's updateHwmon does. */
export function writeChip(out: MetricWriter, chip: string, chipName: string | undefined, data: ChipData): void {
  if (chipName) out.gauge('node_hwmon_chip_names', 'Annotation metric for human-readable chip names', ['chip', 'chip_name'])(1, chip, chipName);
  for (const [sensor, props] of data) {
    const sensorType = explodeSensorFilename(sensor)!.type;
    const label = props.get('label');
    if (label !== undefined) out.gauge('node_hwmon_sensor_label', 'Label for given chip and sensor', ['chip', 'sensor', 'label'])(1, chip, sensor, label);
    const number = (raw: string | undefined) => (raw !== undefined && raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : undefined);
    if (sensorType === 'beep_enable') {
      out.gauge('node_hwmon_beep_enabled', 'Hardware beep enabled', ['chip', 'sensor'])(props.get('') === '1' ? 1 : 0, chip, sensor);
      continue;
    }
    if (sensorType === 'vrm') {
      const v = number(props.get(''));
      if (v !== undefined) out.gauge('node_hwmon_voltage_regulator_version', 'Hardware voltage regulator', ['chip', 'sensor'])(v, chip, sensor);
      continue;
    }
    if (sensorType === 'update_interval') {
      const v = number(props.get(''));
      if (v !== undefined) out.gauge('node_hwmon_update_interval_seconds', 'Hardware monitor update interval', ['chip', 'sensor'])(v * 0.001, chip, sensor);
      continue;
    }
    const hasBare = props.has('');
    for (const [element, raw] of props) {
      if (element === 'label') continue;
      const v = number(raw);
      if (v === undefined) continue;
      const fam = hwmonFamily(sensorType, element, hasBare)!;
      (fam.counter ? out.counter : out.gauge)(fam.name, fam.help, ['chip', 'sensor'])(v * fam.scale, chip, sensor);
    }
  }
}

/** The chip label: the device it sits on (`platform_coretemp_0`), else its name, else its directory. */
function chipLabel(root: string, dir: string): string | undefined {
  try {
    const device = realpathSync(hostPath(root, `${dir}/device`));
    const devName = cleanHwmonName(basename(device));
    const devType = cleanHwmonName(basename(dirname(device)));
    if (devType && devName) return `${devType}_${devName}`;
    if (devName) return devName;
  } catch {
    // no device link (a virtual chip)
  }
  const name = chipName(root, dir);
  if (name) return name;
  try {
    return cleanHwmonName(basename(realpathSync(hostPath(root, dir)))) || undefined;
  } catch {
    return undefined;
  }
}

function chipName(root: string, dir: string): string | undefined {
  try {
    return cleanHwmonName(readFileAt(root, `${dir}/name`)) || undefined;
  } catch {
    return undefined;
  }
}

/** Reads a sensor file as node_exporter does: its first 128 bytes, newlines trimmed; undefined when it cannot be read. */
function readSensor(root: string, path: string): string | undefined {
  try {
    return readFileAt(root, path).slice(0, 128).replace(/^\n+|\n+$/g, '');
  } catch {
    return undefined;
  }
}

interface Chip {
  dir: string;
  label: string;
  name: string | undefined;
  /** Sensor files: [directory, file, sensor key, property]. */
  files: [string, string, string][];
}

function discover(root: string): Chip[] {
  const chips: Chip[] = [];
  for (const d of listDir(root, '/sys/class/hwmon')) {
    const dir = `/sys/class/hwmon/${d}`;
    const files: [string, string, string][] = [];
    for (const sub of [dir, `${dir}/device`]) {
      let names: string[];
      try {
        names = listDir(root, sub);
      } catch {
        continue; // not a directory
      }
      for (const f of names) {
        const e = explodeSensorFilename(f);
        if (!e || !SENSOR_TYPES.has(e.type)) continue;
        files.push([`${sub}/${f}`, `${e.type}${e.num}`, e.property]);
      }
    }
    const label = chipLabel(root, dir);
    if (label === undefined) continue;
    chips.push({ dir, label, name: chipName(root, dir), files });
  }
  return chips;
}

export const hwmonCollector: CollectorSpec = {
  name: 'hwmon',
  reads: '/sys/class/hwmon/hwmon*/{name,device,<sensor files>}',
  enabled: true,
  every: 1,
  maxSeries: 8192,
  whenAbsent: 'nodata',
  create(ctx) {
    let chips: Chip[] | undefined;
    let runs = 0;
    return (out) => {
      // Which chips and sensor files exist changes with modules loaded: look again every few minutes.
      if (!chips || runs % 30 === 0) {
        if (!existsSync(hostPath(ctx.root, '/sys/class/hwmon'))) throw new NoDataError('no /sys/class/hwmon');
        chips = discover(ctx.root);
      }
      runs++;
      for (const chip of chips) {
        const data: ChipData = new Map();
        for (const [path, sensor, prop] of chip.files) {
          const v = readSensor(ctx.root, path);
          if (v === undefined) continue;
          let props = data.get(sensor);
          if (!props) data.set(sensor, (props = new Map()));
          props.set(prop, v);
        }
        writeChip(out, chip.label, chip.name, data);
      }
    };
  },
};
