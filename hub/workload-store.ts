/**
 * Persistence of what runs on each node (processes, containers, units,
 * ports), the state of each node's workload collectors, and the event
 * history. The inventory itself lives in memory (hub/inventory.ts); this keeps
 * it across hub restarts and answers event queries.
 */
import type Database from 'better-sqlite3';
import type { CollectorStates } from '../protocol/index.ts';

/** The four kinds of workload, as the wire lists name them. */
export type WorkloadKind = 'processes' | 'containers' | 'units' | 'ports';

/** One stored workload item. */
export interface WorkloadRow {
  nodeId: number;
  kind: WorkloadKind;
  key: string;
  data: unknown;
}

/** Something that changed on a node, kept for "what changed?". */
export interface EventRecord {
  id: number;
  ts: number;
  nodeId: number | null;
  /** The node's name, joined at read time. */
  node: string | null;
  /** `container.started`, `container.died`, `unit.failed`, `port.opened`... */
  kind: string;
  /** What it happened to: a container or unit name, a socket. */
  subject: string;
  service: string | null;
  detail: Record<string, unknown>;
}

/** An event before it is stored. */
export type NewEvent = Omit<EventRecord, 'id' | 'node'>;

/** Changes to one node's workloads, written in one transaction. */
export interface WorkloadChanges {
  /** Delete every stored item of the node first: a snapshot that rewrites what the disk may have missed. */
  clear?: boolean;
  upserts: { kind: WorkloadKind; key: string; data: unknown }[];
  removes: { kind: WorkloadKind; key: string }[];
  collectors?: CollectorStates;
  events: NewEvent[];
}

export interface EventQuery {
  since?: number;
  until?: number;
  nodeId?: number;
  /** Prefix match: `container` matches `container.started`. */
  kind?: string;
  limit: number;
}

export interface WorkloadStore {
  /** Every stored workload item of every node. */
  loadAll(): WorkloadRow[];
  /** Every node's last known collector states. */
  loadCollectors(): Map<number, CollectorStates>;
  apply(nodeId: number, changes: WorkloadChanges, now: number): void;
  /**
   * Replaces the data of stored items in one transaction so that the old text
   * leaves the files too: the space it held is zeroed (secure_delete) and the
   * WAL is checkpointed and truncated. For scrubbing what an older hub stored.
   */
  rewrite(rows: WorkloadRow[]): void;
  /** Stores events that came with no workload change (a node going offline). */
  appendEvents(events: NewEvent[]): void;
  /** Newest first. */
  listEvents(q: EventQuery): EventRecord[];
  /** Deletes events older than `before`; returns how many. */
  pruneEvents(before: number): number;
}

interface EventRow {
  id: number; ts: number; node_id: number | null; node: string | null; kind: string; subject: string; service: string | null; detail_json: string;
}

/** Prepares the statements on a database opened by openDatabase (schema version 2 or later). */
export function createWorkloadStore(db: Database.Database): WorkloadStore {
  const q = {
    all: db.prepare<[], { node_id: number; kind: WorkloadKind; key: string; data_json: string }>('SELECT node_id, kind, key, data_json FROM workloads'),
    collectors: db.prepare<[], { node_id: number; data_json: string }>('SELECT node_id, data_json FROM workload_collectors'),
    upsert: db.prepare(`INSERT INTO workloads (node_id, kind, key, data_json, updated_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (node_id, kind, key) DO UPDATE SET data_json = excluded.data_json, updated_at = excluded.updated_at`),
    remove: db.prepare('DELETE FROM workloads WHERE node_id = ? AND kind = ? AND key = ?'),
    clear: db.prepare('DELETE FROM workloads WHERE node_id = ?'),
    setCollectors: db.prepare(`INSERT INTO workload_collectors (node_id, data_json) VALUES (?, ?)
      ON CONFLICT (node_id) DO UPDATE SET data_json = excluded.data_json`),
    insertEvent: db.prepare('INSERT INTO events (ts, node_id, kind, subject, service, detail_json) VALUES (?, ?, ?, ?, ?, ?)'),
    prune: db.prepare('DELETE FROM events WHERE ts < ?'),
    rewrite: db.prepare('UPDATE workloads SET data_json = ? WHERE node_id = ? AND kind = ? AND key = ?'),
  };

  const insertEvents = (events: NewEvent[]) => {
    for (const e of events) q.insertEvent.run(Math.round(e.ts), e.nodeId, e.kind, e.subject, e.service, JSON.stringify(e.detail));
  };
  const apply = db.transaction((nodeId: number, c: WorkloadChanges, now: number) => {
    if (c.clear) q.clear.run(nodeId);
    for (const u of c.upserts) q.upsert.run(nodeId, u.kind, u.key, JSON.stringify(u.data), now);
    for (const r of c.removes) q.remove.run(nodeId, r.kind, r.key);
    if (c.collectors) q.setCollectors.run(nodeId, JSON.stringify(c.collectors));
    insertEvents(c.events);
  });
  const appendEvents = db.transaction(insertEvents);
  const rewrite = db.transaction((rows: WorkloadRow[]) => {
    for (const r of rows) q.rewrite.run(JSON.stringify(r.data), r.nodeId, r.kind, r.key);
  });

  return {
    loadAll: () => q.all.all().map((r) => ({ nodeId: r.node_id, kind: r.kind, key: r.key, data: JSON.parse(r.data_json) as unknown })),
    loadCollectors: () => new Map(q.collectors.all().map((r) => [r.node_id, JSON.parse(r.data_json) as CollectorStates])),
    apply: (nodeId, changes, now) => apply(nodeId, changes, now),
    appendEvents: (events) => appendEvents(events),
    rewrite(rows) {
      if (rows.length === 0) return;
      // Without secure_delete an updated row's old bytes stay in the page's free space, and its
      // old page in the WAL until that is reused: both are copies of what is being scrubbed.
      const before = db.pragma('secure_delete', { simple: true }) as number;
      db.pragma('secure_delete = ON');
      try {
        rewrite(rows);
      } finally {
        db.pragma(`secure_delete = ${before ? 'ON' : 'OFF'}`);
      }
      db.pragma('wal_checkpoint(TRUNCATE)');
    },
    listEvents(query) {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (query.since !== undefined) { where.push('e.ts >= ?'); args.push(query.since); }
      if (query.until !== undefined) { where.push('e.ts < ?'); args.push(query.until); }
      if (query.nodeId !== undefined) { where.push('e.node_id = ?'); args.push(query.nodeId); }
      if (query.kind !== undefined) { where.push("(e.kind = ? OR e.kind LIKE ? ESCAPE '\\')"); args.push(query.kind, `${query.kind.replace(/[\\%_]/g, (c) => `\\${c}`)}.%`); }
      const sql = `SELECT e.id, e.ts, e.node_id, n.name AS node, e.kind, e.subject, e.service, e.detail_json
        FROM events e LEFT JOIN nodes n ON n.id = e.node_id
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.ts DESC, e.id DESC LIMIT ?`;
      // A handful of shapes at most; better-sqlite3 caches nothing for us, but this is an API read, not ingest.
      const rows = db.prepare<(string | number)[], EventRow>(sql).all(...args, query.limit);
      return rows.map((r) => ({
        id: r.id, ts: r.ts, nodeId: r.node_id, node: r.node, kind: r.kind, subject: r.subject, service: r.service,
        detail: JSON.parse(r.detail_json) as Record<string, unknown>,
      }));
    },
    pruneEvents: (before) => q.prune.run(before).changes,
  };
}
