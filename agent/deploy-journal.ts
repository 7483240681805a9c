/**
 * The results of the deploys this agent ran, by job id, in its state
 * directory: the hub sends a job again after every reconnect, and the agent
 * must answer with what it did the first time instead of doing it twice.
 * A small JSON file, the last MAX_JOBS results, replaced atomically.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeployResult } from '../protocol/index.ts';

/** Deploy results by job id, kept across agent restarts. */
export interface DeployJournal {
  get(id: string): DeployResult | undefined;
  /** Stores the result (replacing one with the same id) and writes the file before returning. */
  record(result: DeployResult): void;
}

/** How many results the journal keeps; far more than the hub has open at once. */
export const MAX_JOBS = 200;

/** The journal's file name in the state directory. */
export const JOURNAL_FILE = 'deploys.json';

/** Opens (or starts) the journal file `deploys.json` in the state directory. */
export function createDeployJournal(stateDir: string, max = MAX_JOBS): DeployJournal {
  const file = join(stateDir, JOURNAL_FILE);
  const byId = new Map<string, DeployResult>();
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (Array.isArray(parsed)) {
      for (const e of parsed) {
        if (typeof e === 'object' && e !== null && typeof (e as DeployResult).id === 'string' && (e as DeployResult).type === 'deployResult') byId.set((e as DeployResult).id, e as DeployResult);
      }
    }
  } catch {
    // No journal yet, or a damaged one: start empty (the hub's job record still says what happened).
  }
  return {
    get: (id) => byId.get(id),
    record(result) {
      // A Map keeps insertion order: delete and set moves the id to the newest end.
      byId.delete(result.id);
      byId.set(result.id, result);
      for (const id of byId.keys()) {
        if (byId.size <= max) break;
        byId.delete(id);
      }
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify([...byId.values()]), { mode: 0o600 });
      // The mode above applies only when the file is new; a stale tmp file keeps its own.
      chmodSync(tmp, 0o600);
      renameSync(tmp, file);
    },
  };
}
