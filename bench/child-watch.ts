/**
 * Counts the child processes some processes start, by scanning /proc on a
 * short timer: the check behind "no child processes spawned per sample".
 */
import { childrenOf } from './proc-stats.ts';

/** A running watch; `stop()` ends the timer. */
export interface ChildWatch {
  /** Distinct children (pid + start time) of `parent` seen since the watch began. */
  seen(parent: number): number;
  /** Of those, the ones not there at the watch's first scan: started while it ran (a long-lived child from before is not). */
  started(parent: number): number;
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
  const atStart = new Map([...found].map(([p, kids]) => [p, new Set(kids.keys())]));
  const timer = setInterval(scan, everyMs);
  return {
    seen: (parent) => found.get(parent)?.size ?? 0,
    started: (parent) => [...(found.get(parent)?.keys() ?? [])].filter((k) => !atStart.get(parent)?.has(k)).length,
    names: (parent) => [...new Set(found.get(parent)?.values() ?? [])],
    stop: () => clearInterval(timer),
  };
}
