/**
 * node_exporter's `time` collector: the node's clock, its time zone, and its
 * clock sources.
 */
import { readFileSync } from 'node:fs';
import { listDir, tryReadSys } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/**
 * The abbreviation of the zone in force (`UTC`, `CET`, `CEST`), as Go's
 * time.Now().Zone() gives it: from the POSIX TZ rule at the end of the
 * TZif file (/etc/localtime, or $TZ's), picking the DST name when the
 * offset in force is not the standard one. `offsetSeconds` is east of UTC.
 */
export function zoneAbbreviation(tzif: Buffer | undefined, offsetSeconds: number): string {
  const rule = zoneRule(tzif);
  if (!rule) return offsetSeconds === 0 ? 'UTC' : formatOffset(offsetSeconds);
  if (rule.dst !== undefined && offsetSeconds !== rule.stdOffset) return rule.dst;
  return rule.std;
}

/** The POSIX TZ rule at the end of a TZif file: its names and its standard offset (seconds east of UTC). */
function zoneRule(tzif: Buffer | undefined): { std: string; stdOffset: number; dst: string | undefined } | undefined {
  const rule = tzif ? tzif.toString('latin1', tzif.lastIndexOf(10, tzif.length - 2) + 1).trim() : '';
  // std offset [dst [offset] [,rule]]: names are letters or <+03>-style quoted.
  const m = /^(<[^>]+>|[A-Za-z]{3,})([-+]?\d{1,2}(?::\d{2}){0,2})(<[^>]+>|[A-Za-z]{3,})?/.exec(rule);
  if (!m) return undefined;
  const unquote = (s: string) => s.replace(/^<|>$/g, '');
  const [h = '0', mi = '0', s = '0'] = m[2]!.replace(/^[-+]/, '').split(':');
  // POSIX offsets are west of UTC: "CET-1" is one hour east.
  const stdOffset = (m[2]!.startsWith('-') ? 1 : -1) * (Number(h) * 3600 + Number(mi) * 60 + Number(s));
  return { std: unquote(m[1]!), stdOffset, dst: m[3] ? unquote(m[3]) : undefined };
}

/**
 * The zone's offset east of UTC in seconds, when it never changes: no zone
 * file (UTC), or a rule with no daylight saving time (`UTC0`, `<+03>-3`),
 * as most servers run. Undefined for a zone with DST, whose offset only the
 * runtime's time zone database (ICU) can give: asking it maps ~0.5 MiB of
 * ICU's data into the agent, so it is asked only then.
 */
export function fixedZoneOffset(tzif: Buffer | undefined): number | undefined {
  if (!tzif) return 0;
  const rule = zoneRule(tzif);
  return rule && rule.dst === undefined ? rule.stdOffset : undefined;
}

function formatOffset(seconds: number): string {
  const sign = seconds < 0 ? '-' : '+';
  const a = Math.abs(seconds);
  return `${sign}${String(Math.floor(a / 3600)).padStart(2, '0')}${a % 3600 ? String(Math.floor((a % 3600) / 60)).padStart(2, '0') : ''}`;
}

/** The TZif data of the local zone: $TZ's file when TZ names one, else /etc/localtime; undefined for UTC-by-default. */
function localZoneFile(): Buffer | undefined {
  const tz = process.env.TZ;
  const candidates = tz ? [tz.startsWith('/') ? tz : `/usr/share/zoneinfo/${tz.replace(/^:/, '')}`] : ['/etc/localtime'];
  for (const f of candidates) {
    try {
      return readFileSync(f);
    } catch {
      // no zone file: UTC
    }
  }
  return undefined;
}

export const timeCollector: CollectorSpec = {
  name: 'time',
  reads: 'the clock, /etc/localtime, /sys/devices/system/clocksource',
  enabled: true,
  every: 1,
  maxSeries: 64,
  whenAbsent: 'nodata',
  create(ctx) {
    const zoneFile = localZoneFile();
    const fixedOffset = fixedZoneOffset(zoneFile);
    let sources: { device: string; available: string[]; current: string }[] = [];
    let runs = 0;
    return (out) => {
      const now = ctx.now();
      // Milliseconds: what a dashboard of clock skew needs, and no more digits on the wire every interval.
      out.gauge('node_time_seconds', 'System time in seconds since epoch (1970).')(now / 1000);
      const offset = fixedOffset ?? -new Date(now).getTimezoneOffset() * 60;
      out.gauge('node_time_zone_offset_seconds', 'System time zone offset in seconds.', ['time_zone'])(offset, zoneAbbreviation(zoneFile, offset));
      // Clock sources change only when an admin switches them: read them every few minutes.
      if (runs++ % 30 === 0) {
        sources = listDir(ctx.root, '/sys/devices/system/clocksource').filter((d) => /^clocksource\d+$/.test(d)).map((d) => {
          const dir = `/sys/devices/system/clocksource/${d}`;
          return {
            device: d.slice('clocksource'.length),
            available: (tryReadSys(ctx.root, `${dir}/available_clocksource`) ?? '').split(/\s+/).filter(Boolean),
            current: tryReadSys(ctx.root, `${dir}/current_clocksource`) ?? '',
          };
        });
      }
      const available = out.gauge('node_time_clocksource_available_info', 'Available clocksources read from \'/sys/devices/system/clocksource\'.', ['device', 'clocksource']);
      const current = out.gauge('node_time_clocksource_current_info', 'Current clocksource read from \'/sys/devices/system/clocksource\'.', ['device', 'clocksource']);
      for (const s of sources) {
        for (const a of s.available) available(1, s.device, a);
        current(1, s.device, s.current);
      }
    };
  },
};
