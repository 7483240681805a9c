/**
 * Counts the child processes some processes start, by scanning /proc on a
 * short timer: the check behind "no child processes spawned per sample".
 */
import { childrenOf } from './proc-stats.ts';

/** A running watch; `stop()` ends the timer. */
export interface ChildWatch {
  /** Distinct children (pid + start time) of `parent` seen since the watch began. */
  seen(parent: number): number;
  /** Command names of the children seen, for the report. */
  names(parent: number): string[];
  stop(): void;
}

/**
 * Starts scanning every `everyMs` for processes whose parent is one of
 * `parents`. A child that lives less than one period can slip through; the
 * parent's cutime/cstime (see proc-stats) catch those once reaped.
 */
export function watchChildren(parents: readonly number[], everyMs: number): ChildWatch {
  const wanted = new Set(parents);
  const found = new Map<number, Map<string, string>>(parents.map((p) => [p, new Map()]));
  const scan = () => {
    for (const c of childrenOf(wanted)) {
      found.get(c.ppid)?.set(`${c.pid}:${c.startTime}`, c.comm);
    }
  };
  scan();
  const timer = setInterval(scan, everyMs);
  return {
    seen: (parent) => found.get(parent)?.size ?? 0,
    names: (parent) => [...new Set(found.get(parent)?.values() ?? [])],
    stop: () => clearInterval(timer),
  };
}
