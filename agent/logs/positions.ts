/**
 * Where log collection stands, in `<state>/logs-position.json`: per
 * container the time of the last line shipped and how many lines had
 * exactly that time, the journal's last shipped cursor, and when collection
 * first began on this node. "Shipped" means in the agent's journal and
 * fsync'd: a position is saved only for lines that a restart would not lose,
 * so after a SIGKILL reading resumes where the durable journal ends (no
 * gap), and the lines read again at the seam are the few Docker gives at the
 * position's own timestamp, which are skipped by count.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DockerPosition } from './docker-logs.ts';
import { replaceFileDurably } from '../durable-file.ts';

/** The saved state. */
export interface LogPositions {
  /** When this node first collected logs (ms): containers and the journal with no position start here (or later). */
  startedAt: number;
  docker: Record<string, DockerPosition>;
  journal?: string;
}

const FILE = 'logs-position.json';

/** Reads the positions; a missing or damaged file starts afresh from `now`. */
export function readPositions(stateDir: string, now: number): { positions: LogPositions; fresh: boolean } {
  try {
    const v = JSON.parse(readFileSync(join(stateDir, FILE), 'utf8')) as Partial<LogPositions>;
    const docker: Record<string, DockerPosition> = {};
    for (const [id, p] of Object.entries(v.docker ?? {})) {
      if (p && Number.isSafeInteger(p.ms) && Number.isInteger(p.ns) && Number.isInteger(p.n) && p.ms >= 0 && p.ns >= 0 && p.n >= 0) docker[id] = { ms: p.ms, ns: p.ns, n: p.n };
    }
    const startedAt = Number.isSafeInteger(v.startedAt) ? v.startedAt! : now;
    return { positions: { startedAt, docker, ...(typeof v.journal === 'string' && v.journal ? { journal: v.journal } : {}) }, fresh: false };
  } catch {
    return { positions: { startedAt: now, docker: {} }, fresh: true };
  }
}

/** Replaces the positions file atomically and durably (agent/durable-file.ts); false when the disk refused. */
export function writePositions(stateDir: string, positions: LogPositions): boolean {
  try {
    replaceFileDurably(join(stateDir, FILE), JSON.stringify(positions));
    return true;
  } catch {
    return false;
  }
}
