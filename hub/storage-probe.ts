/**
 * The write a hub whose storage failed tries every few seconds to find out
 * whether it works again. A row that changes nothing on disk would prove
 * nothing (SQLite may not touch a page for it); this one writes as many
 * pages as a busy group commit does, then deletes them in the same
 * transaction, so a success means real room for ingest.
 */
import type Database from 'better-sqlite3';

/** Bytes the probe writes: about one group commit of 2,000 agents' samples. */
export const PROBE_BYTES = 256 * 1024;

/** Returns the probe, to run inside a transaction (the group commit's enqueue). */
export function createStorageProbe(db: Database.Database): () => void {
  const insert = db.prepare('INSERT INTO storage_probe (filler) VALUES (randomblob(?))');
  const clear = db.prepare('DELETE FROM storage_probe');
  return () => {
    insert.run(PROBE_BYTES);
    clear.run();
  };
}
