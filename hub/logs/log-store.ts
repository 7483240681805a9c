/**
 * The hub's recent logs: every line agents ship, in SQLite beside the
 * inventory, for `muster logs` and as the Loki pusher's spool. Batches go
 * through the group commit with the node's acked sequence number, in the
 * order they came, so an ack covers a batch only once its lines are
 * fsync'd (a separate database would need its own ordering of acks).
 *
 * Bounded by age (received more than `maxAgeMs` ago) and by size (the lines'
 * bytes past `maxBytes`), oldest batches first, pruned in small steps off the
 * ingest path. Lines a Loki target has not pushed yet go with them, counted
 * as dropped for that target: the store is the spool, one copy on disk.
 */
import type Database from 'better-sqlite3';
import type { LogsMessage } from '../../protocol/logs.ts';
import type { Committer } from '../group-commit.ts';
import { dnsLabel } from '../../dns/names.ts';
import { labelString, lokiLabels, sourceService } from './labels.ts';

/** Bounds of the store. */
export interface LogStoreOptions {
  /** Lines received longer ago than this are dropped (default 24 h). */
  maxAgeMs?: number;
  /** Bytes of lines kept at most (default 1 GiB). */
  maxBytes?: number;
  /** Lines older than this (by their own time) or ahead of the hub by more than `maxAheadMs` are stamped with their arrival (default 7 days: Loki's own limit). */
  maxLineAgeMs?: number;
  maxAheadMs?: number;
}

/** The defaults of LogStoreOptions. */
export const LOG_STORE_DEFAULTS = Object.freeze({
  maxAgeMs: 24 * 3_600_000,
  maxBytes: 1024 ** 3,
  maxLineAgeMs: 7 * 86_400_000,
  maxAheadMs: 10 * 60_000,
});

/** One stored line with what its stream says of it. */
export interface StoredLine {
  id: number;
  nodeId: number;
  ts: number;
  ns: number;
  line: string;
  kind: 'docker' | 'journal';
  service: string;
  instance: string;
  containerId: string | null;
  image: string | null;
  unit: string | null;
  level: string | null;
  pid: number | null;
  stderr: boolean;
  /** The Loki labels, `{a="x", ...}`. */
  labels: string;
}

/** Which lines a reader wants. */
export interface LogQuery {
  /** Only these nodes. */
  nodeIds?: number[];
  /** Only this service (matched as DNS does: case and _ vs - do not matter). */
  service?: string;
  /** Only this container (name) or unit. */
  container?: string;
  unit?: string;
  /** Only lines at or after this time (ms). */
  since?: number;
  until?: number;
  grep?: RegExp;
  /** Only lines stored after this id (a follow cursor); then lines come in arrival order, not time order. */
  afterId?: number;
  limit: number;
}

/** What the store holds and has done. */
export interface LogStoreStats {
  lines: number;
  bytes: number;
  batches: number;
  receivedLines: number;
  receivedBytes: number;
  /** Lines pruned for the bound. */
  evictedLines: number;
  /** Lines whose time was outside the window and were stamped with their arrival. */
  restamped: number;
}

/** The recent-log store. */
export interface LogStore {
  /**
   * Queues a batch for the next group commit (the caller queues the node's
   * acked sequence number after it). A batch stored before (same node and
   * seq) is not stored again.
   */
  ingest(node: { id: number; name: string }, msg: LogsMessage): void;
  /** Lines matching `q`: the newest `limit` in time order, or with `afterId` the next `limit` in arrival order. */
  query(q: LogQuery): StoredLine[];
  /** Lines after `afterId` in arrival order, for a Loki target. */
  readAfter(afterId: number, limit: number): StoredLine[];
  /** The id of the newest line (0 for none). */
  lastId(): number;
  /** Lines and bytes stored after `afterId` (from the batch index: whole batches). */
  countAfter(afterId: number): { lines: number; bytes: number };
  /** Prunes past the bound, a step at a time; returns lines removed. */
  prune(): number;
  /** Runs `fn` after every commit that stored lines (follow readers wake on it). */
  onStored(fn: () => void): () => void;
  /** Runs `fn(uptoId)` before lines up to that id are pruned (Loki targets count what they had not pushed). */
  onEvict(fn: (uptoId: number) => void): () => void;
  cursor(target: string): number;
  setCursor(target: string, lastId: number): void;
  stats(): LogStoreStats;
}

export interface LogStoreDeps {
  db: Database.Database;
  /** The group commit the node's acks ride on. */
  commits: Committer;
  now: () => number;
}

interface LineRow {
  id: number; node_id: number; ts: number; ns: number; line: string; kind: 'docker' | 'journal'; service: string; instance: string;
  container_id: string | null; image: string | null; unit: string | null; level: string | null; pid: number | null; stderr: number | null; labels: string;
}

const SELECT = `SELECT l.id, s.node_id, l.ts, l.ns, l.line, s.kind, s.service, s.instance, s.container_id, s.image, s.unit, s.level, l.pid, l.stderr, s.labels
  FROM log_lines l JOIN log_streams s ON s.id = l.stream_id`;

const toLine = (r: LineRow): StoredLine => ({
  id: r.id, nodeId: r.node_id, ts: r.ts, ns: r.ns, line: r.line, kind: r.kind, service: r.service, instance: r.instance,
  containerId: r.container_id, image: r.image, unit: r.unit, level: r.level, pid: r.pid, stderr: r.stderr === 1, labels: r.labels,
});

/** Batches pruned per step: keeps each prune's transaction short beside the ingest commits. */
const PRUNE_STEP = 200;
/** Lines examined per query at most, grep or not: a viewer's query cannot hold the hub's thread for long. */
const MAX_SCAN = 200_000;

/** Creates the store over the hub's database (migration 9 made its tables). */
export function createLogStore(deps: LogStoreDeps, opts: LogStoreOptions = {}): LogStore {
  const { db, commits, now } = deps;
  const maxAgeMs = opts.maxAgeMs ?? LOG_STORE_DEFAULTS.maxAgeMs;
  const maxBytes = opts.maxBytes ?? LOG_STORE_DEFAULTS.maxBytes;
  const maxLineAgeMs = opts.maxLineAgeMs ?? LOG_STORE_DEFAULTS.maxLineAgeMs;
  const maxAheadMs = opts.maxAheadMs ?? LOG_STORE_DEFAULTS.maxAheadMs;
  const q = {
    stream: db.prepare<[string], { id: number }>('SELECT id FROM log_streams WHERE key = ?'),
    insertStream: db.prepare(`INSERT INTO log_streams (node_id, key, kind, service, service_key, instance, container_id, image, unit, level, labels)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    insertLine: db.prepare('INSERT INTO log_lines (stream_id, ts, ns, line, pid, stderr) VALUES (?, ?, ?, ?, ?, ?)'),
    hasBatch: db.prepare<[number, number], { n: number }>('SELECT 1 AS n FROM log_batches WHERE node_id = ? AND seq = ?'),
    insertBatch: db.prepare('INSERT INTO log_batches (node_id, seq, last_id, lines, bytes, received) VALUES (?, ?, ?, ?, ?, ?)'),
    totals: db.prepare<[], { lines: number | null; bytes: number | null; batches: number }>('SELECT SUM(lines) AS lines, SUM(bytes) AS bytes, COUNT(*) AS batches FROM log_batches'),
    oldest: db.prepare<[number], { last_id: number; lines: number; bytes: number; received: number }>('SELECT last_id, lines, bytes, received FROM log_batches ORDER BY last_id LIMIT ?'),
    deleteLines: db.prepare('DELETE FROM log_lines WHERE id <= ?'),
    deleteBatches: db.prepare('DELETE FROM log_batches WHERE last_id <= ?'),
    after: db.prepare<[number, number], LineRow>(`${SELECT} WHERE l.id > ? ORDER BY l.id LIMIT ?`),
    lastId: db.prepare<[], { id: number | null }>('SELECT MAX(id) AS id FROM log_lines'),
    countAfter: db.prepare<[number], { lines: number | null; bytes: number | null }>('SELECT SUM(lines) AS lines, SUM(bytes) AS bytes FROM log_batches WHERE last_id > ?'),
    cursor: db.prepare<[string], { last_id: number }>('SELECT last_id FROM loki_cursors WHERE target = ?'),
    setCursor: db.prepare('INSERT INTO loki_cursors (target, last_id) VALUES (?, ?) ON CONFLICT (target) DO UPDATE SET last_id = excluded.last_id'),
  };
  const streams = new Map<string, number>();
  const t0 = q.totals.get()!;
  const stats: LogStoreStats = {
    lines: t0.lines ?? 0, bytes: t0.bytes ?? 0, batches: t0.batches, receivedLines: 0, receivedBytes: 0, evictedLines: 0, restamped: 0,
  };
  let last = q.lastId.get()?.id ?? 0;
  const storedListeners = new Set<() => void>();
  const evictListeners = new Set<(upto: number) => void>();

  const streamId = (nodeId: number, node: string, src: LogsMessage['src'][number], level: string | undefined): number => {
    const key = `${nodeId}\u0000${src.kind}\u0000${src.name}\u0000${src.id ?? ''}\u0000${src.unit ?? ''}\u0000${src.service ?? ''}\u0000${src.compose ?? ''}\u0000${level ?? ''}`;
    let id = streams.get(key);
    if (id !== undefined) return id;
    id = q.stream.get(key)?.id;
    if (id === undefined) {
      const service = sourceService(src);
      id = Number(q.insertStream.run(nodeId, key, src.kind, service, dnsLabel(service), src.name, src.id ?? null, src.image ?? null,
        src.unit ?? null, level ?? null, labelString(lokiLabels(node, src, level))).lastInsertRowid);
    }
    streams.set(key, id);
    return id;
  };

  return {
    ingest(node, msg) {
      const received = now();
      let bytes = 0;
      for (const l of msg.lines) bytes += Buffer.byteLength(l.l, 'utf8');
      stats.receivedLines += msg.lines.length;
      stats.receivedBytes += bytes;
      if (msg.lines.length === 0) return;
      commits.enqueue(() => {
        if (q.hasBatch.get(node.id, msg.seq)) return; // a replay of a batch stored before its ack went out
        let lastLine = 0;
        for (const l of msg.lines) {
          const src = msg.src[l.s];
          if (!src) continue;
          let { t, n } = l;
          if (t < received - maxLineAgeMs || t > received + maxAheadMs) {
            // A clock far off (a Pi that booted without network): keep the line, at the time it came.
            t = received;
            n = 0;
            stats.restamped++;
          }
          lastLine = Number(q.insertLine.run(streamId(node.id, node.name, src, l.v), t, n, l.l, l.pid ?? null, l.e === 1 ? 1 : null).lastInsertRowid);
        }
        if (lastLine > 0) q.insertBatch.run(node.id, msg.seq, lastLine, msg.lines.length, bytes, received);
      }, (err) => {
        if (err) {
          // Stream ids made in a rolled-back transaction do not exist: look them up afresh.
          streams.clear();
          return;
        }
        stats.lines += msg.lines.length;
        stats.bytes += bytes;
        stats.batches++;
        last = q.lastId.get()?.id ?? last;
        for (const fn of storedListeners) fn();
      });
    },

    query(lq) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (lq.nodeIds) {
        if (lq.nodeIds.length === 0) return [];
        where.push(`s.node_id IN (${lq.nodeIds.map(() => '?').join(',')})`);
        params.push(...lq.nodeIds);
      }
      if (lq.service !== undefined) { where.push('s.service_key = ?'); params.push(dnsLabel(lq.service)); }
      if (lq.container !== undefined) { where.push("s.kind = 'docker' AND s.instance = ?"); params.push(lq.container); }
      if (lq.unit !== undefined) { where.push('(s.unit = ? OR s.unit = ?)'); params.push(lq.unit, lq.unit.includes('.') ? lq.unit : `${lq.unit}.service`); }
      if (lq.since !== undefined) { where.push('l.ts >= ?'); params.push(lq.since); }
      if (lq.until !== undefined) { where.push('l.ts <= ?'); params.push(lq.until); }
      const follow = lq.afterId !== undefined;
      if (follow) { where.push('l.id > ?'); params.push(lq.afterId); }
      const sql = `${SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${follow ? 'l.id' : 'l.ts DESC, l.ns DESC, l.id DESC'} LIMIT ? OFFSET ?`;
      const stmt = db.prepare<unknown[], LineRow>(sql);
      const out: StoredLine[] = [];
      const page = Math.min(5_000, lq.grep ? 5_000 : lq.limit);
      for (let offset = 0; out.length < lq.limit && offset < MAX_SCAN; offset += page) {
        const rows = stmt.all(...params, page, offset);
        for (const r of rows) {
          if (lq.grep && !lq.grep.test(r.line)) continue;
          out.push(toLine(r));
          if (out.length >= lq.limit) break;
        }
        if (rows.length < page) break;
      }
      return follow ? out : out.reverse();
    },

    readAfter: (afterId, limit) => q.after.all(afterId, limit).map(toLine),
    lastId: () => last,
    countAfter(afterId) {
      const r = q.countAfter.get(afterId);
      return { lines: r?.lines ?? 0, bytes: r?.bytes ?? 0 };
    },

    prune() {
      const cutoff = now() - maxAgeMs;
      let removed = 0;
      for (;;) {
        if (!(stats.bytes > maxBytes) && !(q.oldest.get(1)?.received! < cutoff)) break;
        const victims = q.oldest.all(PRUNE_STEP);
        if (victims.length === 0) break;
        let upto = 0;
        let lines = 0;
        let bytes = 0;
        let excess = stats.bytes - maxBytes;
        for (const v of victims) {
          if (!(excess > 0) && v.received >= cutoff) break;
          upto = v.last_id;
          lines += v.lines;
          bytes += v.bytes;
          excess -= v.bytes;
        }
        if (upto === 0) break;
        for (const fn of evictListeners) fn(upto);
        db.transaction(() => {
          q.deleteLines.run(upto);
          q.deleteBatches.run(upto);
        })();
        stats.lines -= lines;
        stats.bytes -= bytes;
        stats.batches -= victims.filter((v) => v.last_id <= upto).length;
        stats.evictedLines += lines;
        removed += lines;
      }
      return removed;
    },

    onStored(fn) {
      storedListeners.add(fn);
      return () => storedListeners.delete(fn);
    },
    onEvict(fn) {
      evictListeners.add(fn);
      return () => evictListeners.delete(fn);
    },
    cursor: (target) => q.cursor.get(target)?.last_id ?? 0,
    setCursor: (target, lastId) => commits.enqueue(() => void q.setCursor.run(target, lastId)),
    stats: () => ({ ...stats }),
  };
}
