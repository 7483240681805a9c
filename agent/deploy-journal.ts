/**
 * The results of the deploys this agent ran, by job id, in its state
 * directory: the hub sends a job again after every reconnect, and the agent
 * must answer with what it did the first time instead of doing it twice.
 * A small JSON file, the last MAX_JOBS results, replaced atomically.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeployResult } from '../protocol/index.ts';

export interface DeployJournal {
  get(id: string): DeployResult | undefined;
  record(result: DeployResult): void;
}

/** How many results the journal keeps; far more than the hub has open at once. */
export const MAX_JOBS = 200;

/** Opens (or starts) the journal file `deploys.json` in the state directory. */
export function createDeployJournal(stateDir: string, max = MAX_JOBS): DeployJournal {
  const file = join(stateDir, 'deploys.json');
  let entries: DeployResult[] = [];
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (Array.isArray(parsed)) entries = parsed.filter((e): e is DeployResult => typeof e === 'object' && e !== null && typeof (e as DeployResult).id === 'string');
  } catch {
    // No journal yet, or a damaged one: start empty (the hub's job record still says what happened).
  }
  return {
    get: (id) => entries.find((e) => e.id === id),
    record(result) {
      entries = [...entries.filter((e) => e.id !== result.id), result].slice(-max);
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(entries), { mode: 0o600 });
      renameSync(tmp, file);
    },
  };
}
