/**
 * systemd service units, from systemd itself through `systemctl show`. Only
 * where systemd runs as PID 1 (`/run/systemd/system` exists, sd_booted()'s
 * test); elsewhere units are unavailable, with the reason, and nothing is
 * spawned. To keep the agent free of a child process per sample, systemctl
 * runs at most once per `refreshMs` (60 s), unless a unit's cgroup appearing
 * or vanishing (a start, stop or crash, seen through inotify) asks for an
 * earlier look.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import type { UnitInfo } from '../../protocol/workloads.ts';
import { hostPath } from './read.ts';
import { byCodeUnit } from '../compare.ts';

/** The properties asked of systemctl, in the order they are read. */
export const UNIT_PROPERTIES = ['Id', 'Description', 'LoadState', 'ActiveState', 'SubState', 'MainPID', 'MemoryCurrent', 'NRestarts', 'StateChangeTimestampMonotonic'] as const;

/** systemd prints UINT64_MAX for "not known" (MemoryCurrent without memory accounting). */
const UNSET = '18446744073709551615';

/**
 * Parses `systemctl show --property=...` output for several units: blocks of
 * KEY=VALUE lines separated by blank lines. `bootTimeMs` turns the monotonic
 * state-change stamp into wall-clock time.
 */
export function parseSystemctlShow(text: string, bootTimeMs: number): UnitInfo[] {
  const units: UnitInfo[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const props = new Map<string, string>();
    for (const line of block.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) props.set(line.slice(0, eq), line.slice(eq + 1));
    }
    const name = props.get('Id');
    if (!name) continue;
    const num = (key: string): number | undefined => {
      const v = props.get(key);
      if (v === undefined || v === '' || v === UNSET || v === '[not set]') return undefined;
      const n = Number(v);
      return Number.isFinite(n) && n >= 0 ? n : undefined;
    };
    const mono = num('StateChangeTimestampMonotonic');
    const memory = num('MemoryCurrent');
    units.push({
      name: name.slice(0, 256),
      description: (props.get('Description') ?? '').slice(0, 1024),
      loadState: (props.get('LoadState') ?? 'unknown').slice(0, 32),
      activeState: (props.get('ActiveState') ?? 'unknown').slice(0, 32),
      subState: (props.get('SubState') ?? 'unknown').slice(0, 32),
      mainPid: num('MainPID') ?? 0,
      ...(memory !== undefined ? { memoryBytes: memory } : {}),
      restarts: num('NRestarts') ?? 0,
      ...(mono ? { since: Math.round(bootTimeMs + mono / 1000) } : {}),
    });
  }
  return units.sort((a, b) => byCodeUnit(a.name, b.name));
}

/** Parses `systemctl list-units --plain --no-legend` into unit names (first column). */
export function parseListUnits(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const name = line.trim().split(/\s+/)[0];
    if (name && name.endsWith('.service') && !name.startsWith('●')) names.push(name);
  }
  return names;
}

/** Runs a program and resolves with its stdout. */
export type RunCommand = (file: string, args: string[]) => Promise<string>;

const runSystemctl: RunCommand = (file, args) => new Promise((resolve, reject) => {
  execFile(file, args, { timeout: 10_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, SYSTEMD_PAGER: '', LC_ALL: 'C' } }, (err, stdout, stderr) => {
    if (err) reject(new Error(`${file} ${args[0]}: ${(stderr || err.message).trim().split('\n')[0]}`));
    else resolve(stdout);
  });
});

export type UnitReading = { ok: true; units: UnitInfo[] } | { ok: false; reason: string };

export interface UnitReaderOptions {
  root?: string;
  /** How systemctl is run; tests run it inside a container. */
  run?: RunCommand;
  /** The longest a reading is reused (default 60 s). */
  refreshMs?: number;
  now?: () => number;
  /** Whether systemd is PID 1; default: /run/systemd/system exists under root. */
  booted?: () => boolean;
  /** Boot time in ms; default from /proc/stat. */
  bootTimeMs?: () => number;
  /** Directories whose entries are unit cgroups, watched for changes; default the systemd system.slice of v2 and v1. */
  watchDirs?: string[];
}

/** Reads units, cached between refreshes. */
export interface UnitReader {
  read(): Promise<UnitReading>;
  /** Makes the next read ask systemd again. */
  invalidate(): void;
  close(): void;
}

/** Creates the reader; nothing runs until the first read. */
export function createUnitReader(opts: UnitReaderOptions): UnitReader {
  const root = opts.root ?? '/';
  const run = opts.run ?? runSystemctl;
  const refreshMs = opts.refreshMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const booted = opts.booted ?? (() => existsSync(hostPath(root, '/run/systemd/system')));
  const bootTimeMs = opts.bootTimeMs ?? (() => {
    const m = /^btime (\d+)$/m.exec(readFileSync(hostPath(root, '/proc/stat'), 'utf8'));
    return m ? Number(m[1]) * 1000 : 0;
  });
  const watchDirs = opts.watchDirs ?? ['/sys/fs/cgroup/system.slice', '/sys/fs/cgroup/systemd/system.slice'].map((d) => hostPath(root, d));
  let cached: { at: number; reading: UnitReading } | undefined;
  let watchers: FSWatcher[] | undefined;

  const startWatching = () => {
    if (watchers) return;
    watchers = [];
    for (const dir of watchDirs) {
      try {
        const w = watch(dir, { persistent: false }, () => { cached = undefined; });
        w.on('error', () => w.close());
        watchers.push(w);
      } catch {
        // not this cgroup layout
      }
    }
  };

  return {
    async read() {
      if (!booted()) return { ok: false, reason: 'systemd is not PID 1 on this node (no /run/systemd/system)' };
      if (cached && now() - cached.at < refreshMs) return cached.reading;
      startWatching();
      let reading: UnitReading;
      try {
        const names = parseListUnits(await run('systemctl', ['list-units', '--type=service', '--all', '--plain', '--no-legend', '--no-pager']));
        const shown = names.length === 0 ? '' : await run('systemctl', ['show', `--property=${UNIT_PROPERTIES.join(',')}`, '--no-pager', '--', ...names]);
        reading = { ok: true, units: parseSystemctlShow(shown, bootTimeMs()) };
      } catch (err) {
        reading = { ok: false, reason: (err as Error).message.slice(0, 1024) };
      }
      cached = { at: now(), reading };
      return reading;
    },
    invalidate() { cached = undefined; },
    close() {
      for (const w of watchers ?? []) w.close();
      watchers = undefined;
    },
  };
}
