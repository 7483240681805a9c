/**
 * node_exporter's `thermal_zone` collector: each thermal zone's temperature
 * and each cooling device's state (a Raspberry Pi's SoC zone and its CPU
 * frequency cooling device), from /sys/class/thermal.
 */
import { errorCode, listDir, readFileAt } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** A zone's temperature file: millidegrees Celsius -> degrees. */
export function parseMillicelsius(text: string): number {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) throw new Error(`not a temperature: ${JSON.stringify(t.slice(0, 32))}`);
  return Number(t) / 1000;
}

export const thermalZoneCollector: CollectorSpec = {
  name: 'thermal_zone',
  reads: '/sys/class/thermal/thermal_zone*/{type,temp}, /sys/class/thermal/cooling_device*/{type,cur_state,max_state}',
  enabled: true,
  every: 1,
  maxSeries: 4096,
  whenAbsent: 'quiet',
  create: (ctx) => (out) => {
    const entries = listDir(ctx.root, '/sys/class/thermal');
    const temp = out.gauge('node_thermal_zone_temp', 'Zone temperature in Celsius', ['zone', 'type']);
    for (const d of entries) {
      if (!/^thermal_zone\d+$/.test(d)) continue;
      const dir = `/sys/class/thermal/${d}`;
      let celsius: number;
      try {
        celsius = parseMillicelsius(readFileAt(ctx.root, `${dir}/temp`));
      } catch (err) {
        // A zone with nothing to report right now (a Wi-Fi chip that is down) answers ENODATA; node_exporter skips it.
        if (errorCode(err) === 'ENODATA' || errorCode(err) === 'EAGAIN') continue;
        throw err;
      }
      temp(celsius, d.slice('thermal_zone'.length), readFileAt(ctx.root, `${dir}/type`).trim());
    }
    const cur = out.gauge('node_cooling_device_cur_state', 'Current throttle state of the cooling device', ['name', 'type']);
    const max = out.gauge('node_cooling_device_max_state', 'Maximum throttle state of the cooling device', ['name', 'type']);
    for (const d of entries) {
      if (!/^cooling_device\d+$/.test(d)) continue;
      const dir = `/sys/class/thermal/${d}`;
      const type = readFileAt(ctx.root, `${dir}/type`).trim();
      const name = d.slice('cooling_device'.length);
      cur(Number(readFileAt(ctx.root, `${dir}/cur_state`).trim()), name, type);
      max(Number(readFileAt(ctx.root, `${dir}/max_state`).trim()), name, type);
    }
  },
};
