/**
 * Silences: "do not mail me about this until then". A silence matches alerts
 * by node, rule and subject (a service, a mountpoint, a container); what is
 * left out matches anything. Silenced alerts still show in the API; their
 * email waits until the silence ends, and is sent then if they still fire.
 */
import type Database from 'better-sqlite3';
import type { AlertRecord } from './engine.ts';

/** One silence as stored. */
export interface Silence {
  id: string;
  node: string | null;
  rule: string | null;
  subject: string | null;
  comment: string;
  createdBy: string;
  createdAt: number;
  endsAt: number;
}

export interface SilenceStore {
  add(s: Silence): void;
  /** Active and recently ended silences, newest first. */
  list(now: number): Silence[];
  /** Ends a silence now; false when there is none with the id. */
  expire(id: string, now: number): boolean;
  /** Silences in force at `now`. */
  active(now: number): Silence[];
}

/** Whether a silence covers an alert. */
export function silences(s: Silence, a: Pick<AlertRecord, 'node' | 'rule' | 'subject'>): boolean {
  return (s.node === null || s.node === a.node) && (s.rule === null || s.rule === a.rule) && (s.subject === null || s.subject === a.subject);
}

interface Row { id: string; node: string | null; rule: string | null; subject: string | null; comment: string; created_by: string; created_at: number; ends_at: number }
const toSilence = (r: Row): Silence => ({ id: r.id, node: r.node, rule: r.rule, subject: r.subject, comment: r.comment, createdBy: r.created_by, createdAt: r.created_at, endsAt: r.ends_at });

/** Ended silences stay listed this long. */
const KEEP_ENDED_MS = 7 * 86_400_000;

/** Prepares the statements on a database at schema version 5 or later. */
export function createSilenceStore(db: Database.Database): SilenceStore {
  const q = {
    add: db.prepare('INSERT INTO silences (id, node, rule, subject, comment, created_by, created_at, ends_at) VALUES (@id, @node, @rule, @subject, @comment, @createdBy, @createdAt, @endsAt)'),
    list: db.prepare<[number], Row>('SELECT * FROM silences WHERE ends_at >= ? ORDER BY created_at DESC'),
    active: db.prepare<[number], Row>('SELECT * FROM silences WHERE ends_at > ?'),
    expire: db.prepare('UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?'),
    exists: db.prepare<[string], { id: string }>('SELECT id FROM silences WHERE id = ?'),
  };
  return {
    add: (s) => { q.add.run(s); },
    list: (now) => q.list.all(now - KEEP_ENDED_MS).map(toSilence),
    expire: (id, now) => {
      if (!q.exists.get(id)) return false;
      q.expire.run(now, id, now);
      return true;
    },
    active: (now) => q.active.all(now).map(toSilence),
  };
}
