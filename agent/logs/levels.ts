/**
 * The level of a log line, for Loki's `level` label: from the journal's
 * syslog priority when there is one, else from what the line says of itself
 * (`level=warn`, `"level":"error"`, `[INFO]`, `E0412 ...` is not guessed at).
 * Only the start of a line is looked at: a level word deep inside a message
 * ("retrying after error") is content, not the line's level.
 */
import type { LogLevel } from '../../protocol/logs.ts';

/** syslog priorities 0..7 as Loki's levels: emerg, alert and crit are critical; notice is info. */
const BY_PRIORITY: readonly LogLevel[] = ['critical', 'critical', 'critical', 'error', 'warn', 'info', 'info', 'debug'];

/** The level of a journal priority (0..7). */
export function priorityLevel(priority: number): LogLevel | undefined {
  return BY_PRIORITY[priority];
}

const WORDS: Record<string, LogLevel> = {
  trace: 'trace', trc: 'trace',
  debug: 'debug', dbg: 'debug', dbug: 'debug',
  info: 'info', inf: 'info', information: 'info', informational: 'info', notice: 'info',
  warn: 'warn', warning: 'warn', wrn: 'warn',
  error: 'error', err: 'error', eror: 'error',
  critical: 'critical', crit: 'critical', fatal: 'critical', panic: 'critical', emerg: 'critical', alert: 'critical',
};

/** `level=info`, `lvl=warn`, `severity=ERROR`, `"level":"debug"`, `"severity": "WARNING"`. */
const KEYED = /(?:^|[\s{,])"?(?:level|lvl|severity|loglevel|log\.level)"?\s*[=:]\s*"?([A-Za-z]{3,13})\b/i;
/** A level word at the very start, bare or bracketed, after an optional timestamp: `INFO ...`, `[warn] ...`, `2024-01-01 12:00:00 ERROR ...`. */
const LEADING = /^(?:\S*\d\S*\s+){0,2}[[<(]?([A-Za-z]{3,11})[\]>):]?(?:\s|$)/;

/** How much of a line the level is looked for in. */
const LOOK = 200;

/** The level the line states, or undefined when it says none. */
export function lineLevel(line: string): LogLevel | undefined {
  const head = line.length > LOOK ? line.slice(0, LOOK) : line;
  const keyed = KEYED.exec(head);
  if (keyed) {
    const v = WORDS[keyed[1]!.toLowerCase()];
    if (v) return v;
  }
  const lead = LEADING.exec(head);
  if (lead) {
    const word = lead[1]!;
    // Only words written as levels are: INFO, info, Info; not a sentence's first word "Error reading..." in mid-case prose.
    const v = WORDS[word.toLowerCase()];
    if (v && (word === word.toUpperCase() || /[[<(]/.test(lead[0]) || /:\s|:$/.test(lead[0]))) return v;
  }
  return undefined;
}
