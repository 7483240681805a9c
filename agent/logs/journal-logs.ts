/**
 * The systemd journal through one long-lived `journalctl --follow
 * --output=json`, started after the last shipped cursor (`--after-cursor`),
 * or on a first start from when collection began. One process for the
 * agent's life, not one per read; if it ends (journald restarted, the binary
 * upgraded) it is started again after the last cursor read, with backoff.
 *
 * Lines of containers that log to journald (CONTAINER_ID set) are left to
 * the Docker source, which reads them through the Engine, so none is shipped
 * twice.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createLineSplitter } from './lines.ts';

/** One journal entry as the agent ships it. */
export interface JournalLine {
  ms: number;
  ns: number;
  text: string;
  /** `_SYSTEMD_UNIT`, when the entry came from a unit. */
  unit?: string;
  /** SYSLOG_IDENTIFIER (or `_COMM`, or `kernel`): the source of lines of no unit. */
  ident: string;
  priority?: number;
  pid?: number;
  cursor: string;
}

/**
 * Longest line of journalctl's JSON taken: journald keeps a message to 48 KiB
 * by default (LineMax), and JSON escaping can grow it up to sixfold.
 */
const MAX_JSON_LINE = 1024 * 1024;

/** The fields asked for; journalctl adds __CURSOR and the timestamps itself. */
const FIELDS = ['MESSAGE', 'PRIORITY', '_PID', '_SYSTEMD_UNIT', 'SYSLOG_IDENTIFIER', '_COMM', '_TRANSPORT', 'CONTAINER_ID'];

/** A field's text: journalctl gives non-UTF-8 (and binary) values as arrays of bytes. */
function fieldText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((b) => typeof b === 'number')) return Buffer.from(v as number[]).toString('utf8');
  // A field given several times in one entry comes as an array of values: the first is the entry's.
  if (Array.isArray(v) && v.length > 0) return fieldText(v[0]);
  return undefined;
}

/** Turns one line of `journalctl -o json` into a JournalLine; undefined for entries not shipped or not understood. */
export function parseJournalEntry(json: string): JournalLine | undefined {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof e !== 'object' || e === null) return undefined;
  const cursor = fieldText(e['__CURSOR']);
  const realtime = fieldText(e['__REALTIME_TIMESTAMP']);
  if (!cursor || !realtime || !/^\d{1,19}$/.test(realtime)) return undefined;
  if (fieldText(e['CONTAINER_ID'])) return undefined;
  const text = fieldText(e['MESSAGE']);
  if (text === undefined) return undefined;
  // Microseconds since the epoch: more digits than a double keeps exact, so split as text.
  const us = realtime.padStart(4, '0');
  const ms = Number(us.slice(0, -3));
  const ns = Number(us.slice(-3)) * 1000;
  const unit = fieldText(e['_SYSTEMD_UNIT']);
  const transport = fieldText(e['_TRANSPORT']);
  const ident = fieldText(e['SYSLOG_IDENTIFIER']) ?? (transport === 'kernel' ? 'kernel' : fieldText(e['_COMM'])) ?? 'journal';
  const pr = Number(fieldText(e['PRIORITY']));
  const pid = Number(fieldText(e['_PID']));
  return {
    ms, ns, text: text.replace(/\n+$/, ''), ident, cursor,
    ...(unit ? { unit } : {}),
    ...(Number.isInteger(pr) && pr >= 0 && pr <= 7 ? { priority: pr } : {}),
    ...(Number.isInteger(pid) && pid > 0 && pid <= 4_194_304 ? { pid } : {}),
  };
}

/** The arguments of the journalctl the source runs. */
export function journalctlArgs(from: { cursor: string } | { sinceMs: number }): string[] {
  const args = ['--follow', '--output=json', '--all', '--no-pager', '--quiet', `--output-fields=${FIELDS.join(',')}`];
  if ('cursor' in from) args.push(`--after-cursor=${from.cursor}`);
  else args.push(`--since=@${Math.floor(from.sinceMs / 1000)}`);
  return args;
}

export interface JournalSourceDeps {
  /** Where to start: after a cursor, or from a time. */
  start: () => { cursor: string } | { sinceMs: number };
  onLine: (line: JournalLine) => void;
  /** Told when the journal cannot be read (no journalctl, no permission), once per failure streak. */
  onProblem: (reason: string) => void;
  /** The program (default `journalctl`); tests may point at another. */
  command?: string;
  spawnProcess?: typeof spawn;
}

/** A running journal follower. */
export interface JournalSource {
  close(): void;
}

/** Starts following the journal. */
export function startJournalSource(deps: JournalSourceDeps): JournalSource {
  const spawnProcess = deps.spawnProcess ?? spawn;
  const command = deps.command ?? 'journalctl';
  let child: ChildProcess | undefined;
  let lastCursor: string | undefined;
  let retryMs = 1_000;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let reported = false;

  const run = () => {
    if (closed) return;
    const from = lastCursor ? { cursor: lastCursor } : deps.start();
    const startedAt = Date.now();
    let stderr = '';
    let proc: ChildProcess;
    try {
      proc = spawnProcess(command, journalctlArgs(from), { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      deps.onProblem(`cannot run ${command}: ${(err as Error).message}`);
      return again();
    }
    child = proc;
    const lines = createLineSplitter((text) => {
      const entry = parseJournalEntry(text);
      if (!entry) return;
      lastCursor = entry.cursor;
      retryMs = 1_000;
      reported = false;
      deps.onLine(entry);
    }, { maxBytes: MAX_JSON_LINE });
    proc.stdout!.on('data', (chunk: Buffer) => lines.push(chunk));
    proc.stdout!.on('end', () => lines.end());
    proc.stderr!.on('data', (d: Buffer) => { if (stderr.length < 4096) stderr += d.toString(); });
    proc.on('error', (err) => {
      if (!reported) deps.onProblem(`cannot run ${command}: ${err.message}`);
      reported = true;
    });
    proc.on('close', (code) => {
      if (child === proc) child = undefined;
      if (closed) return;
      // A cursor journald no longer has (vacuumed, another machine's) fails at once: start from the time instead.
      if (code !== 0 && Date.now() - startedAt < 2_000 && 'cursor' in from && /cursor/i.test(stderr)) lastCursor = undefined;
      if (!reported && code !== 0) deps.onProblem(`${command} ended (exit ${code}): ${stderr.trim().split('\n')[0] ?? ''}`);
      reported = true;
      again();
    });
  };
  const again = () => {
    if (closed) return;
    timer = setTimeout(run, retryMs);
    timer.unref();
    retryMs = Math.min(60_000, retryMs * 2);
  };
  run();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      child?.kill('SIGTERM');
    },
  };
}
