/**
 * The agent's state directory: its node credential (mode 0600), and the
 * journal of what is not yet acked (agent/outbox.ts keeps that in
 * `journal/`). Files are written to a temporary name and renamed, so a crash
 * never leaves half a credential.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { SampleData } from '../protocol/index.ts';

/** The outbox file agents before the journal saved at a graceful stop (0.1.0): read once, to carry its samples over. */
export interface LegacyOutbox {
  nextSeq: number;
  samples: { seq: number; ts: number; data: SampleData }[];
}

/** What the agent keeps after joining. */
export interface Credential {
  hub: string;
  node: string;
  token: string;
}

export interface StateStore {
  dir: string;
  readCredential(): Credential | undefined;
  writeCredential(c: Credential): void;
  /** Forgets the credential, so the next connect joins again with the join token. */
  clearCredential(): void;
  /** Reads and removes an outbox.json left by an agent from before the journal. */
  takeLegacyOutbox(): LegacyOutbox | undefined;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function writeSecret(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** Opens (creating if needed, mode 0700) the state directory. */
export function createStateStore(dir: string): StateStore {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const credFile = join(dir, 'credential.json');
  const outboxFile = join(dir, 'outbox.json');
  return {
    dir,
    readCredential() {
      const c = readJson<Partial<Credential>>(credFile);
      return c && typeof c.token === 'string' && c.token !== '' && typeof c.node === 'string' && typeof c.hub === 'string' ? (c as Credential) : undefined;
    },
    writeCredential: (c) => writeSecret(credFile, c),
    clearCredential: () => rmSync(credFile, { force: true }),
    takeLegacyOutbox() {
      let s: LegacyOutbox | undefined;
      try {
        s = readJson<LegacyOutbox>(outboxFile);
      } catch {
        s = undefined; // a torn outbox file is not worth refusing to start for
      }
      rmSync(outboxFile, { force: true });
      return s && Array.isArray(s.samples) && typeof s.nextSeq === 'number' ? s : undefined;
    },
  };
}
