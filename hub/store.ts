/**
 * The hub's inventory store: nodes, tokens and samples in SQLite (WAL),
 * behind an interface so the rest of the hub never sees SQL.
 * Statements are prepared once; the schema is versioned by PRAGMA user_version.
 *
 * Nodes live in memory (read on every scrape, alert evaluation and API call)
 * and are written through. Writes on the ingest path (samples, facts, online
 * state) go through a Committer: at once in tests, batched in the hub's group
 * commit, with `done` called once they are on disk.
 */
import Database from 'better-sqlite3';
import type { HostFacts, LostCounts, Sample, SampleData } from '../protocol/index.ts';
import { MIGRATIONS } from './migrations.ts';
import { nameTaken } from './errors.ts';
import { dnsLabel } from '../dns/names.ts';
import { immediateCommitter, isStorageFault, type Committer } from './group-commit.ts';

/**
 * A node as the store knows it. The store hands out its live records:
 * they change as data arrives; callers read them and never write them.
 */
export interface NodeRecord {
  id: number;
  name: string;
  machineId: string;
  facts: HostFacts | null;
  agentVersion: string | null;
  firstSeen: number;
  lastSeen: number;
  online: boolean;
  /** Highest sequence number (samples and workloads deltas) durably stored. */
  ackedSeq: number;
  /** Records the agent reports lost, every reason summed. */
  dropped: number;
  /** The same loss by reason, as the agent last reported it (protocol 2 agents). */
  lost: LostCounts;
  /** Samples the hub refused for a timestamp outside its window (a node's clock far off). */
  rejected: number;
  /** Until when (ms) an admin allows the next join under this name to replace the node; null: not allowed. */
  replaceUntil: number | null;
}

/** What a samples frame tells besides its samples: how far it goes, and what the agent lost. */
export interface SamplesReport {
  /** The highest sequence number the frame covers (samples refused for their time included); default: the highest row's. */
  upTo?: number;
  dropped: number;
  lost?: LostCounts;
}

const NO_LOSS: LostCounts = { overflow: 0, expired: 0, corrupt: 0, renumbered: 0, unwritten: 0 };

/** The newest stored sample of a node, with the figures derived at ingest. */
export interface LatestSample {
  seq: number;
  ts: number;
  cpuUsed: number | null;
  memUsed: number | null;
  data: SampleData;
}

/** A sample to store, with what ingest derived from it. */
export interface SampleRow {
  sample: Sample;
  cpuUsed: number | null;
  memUsed: number | null;
}

/** One point of a node's use over time (raw or hourly). */
export interface UsePoint {
  ts: number;
  cpuUsed: number | null;
  memUsed: number | null;
}

/**
 * admin: everything; deployer: reads, and deploys within a scope; viewer:
 * reads; metrics: scraping /metrics; agent: joining nodes; node: one node's
 * credential. What each may call is in hub/access.ts.
 */
export type TokenRole = 'admin' | 'deployer' | 'viewer' | 'metrics' | 'agent' | 'node';

/**
 * What a deployer may touch: services whose name matches one of `services`
 * (globs: `web-*`), on nodes whose labels match `nodes` (every key, any of its
 * values; empty: every node).
 */
export interface TokenScope {
  services: string[];
  nodes: Record<string, string[]>;
}

/** A token as stored: the secret itself is never kept, only its SHA-256. */
export interface TokenRecord {
  id: string;
  role: TokenRole;
  hash: string;
  nodeId: number | null;
  label: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  /** Joins a join token allows in all; null: no limit. */
  maxUses: number | null;
  /** Joins made with it so far. */
  uses: number;
  /** The only node name a join token may take, replacing that node; null: any new name. */
  replaceNode: string | null;
  /** A deployer's scope; null for every other role. */
  scope: TokenScope | null;
}

/** Everything the hub persists. */
export interface Store {
  getNodeByName(name: string): NodeRecord | undefined;
  getNodeById(id: number): NodeRecord | undefined;
  listNodes(): NodeRecord[];
  /**
   * Creates a node. Throws MUSTER_ERR_NODE_NAME_TAKEN when a node holds the
   * name, or a name with the same DNS label (`pi_1` and `pi-1`): who may take
   * an existing node over is the caller's decision (replaceNode). Written at once.
   */
  joinNode(name: string, machineId: string, now: number): NodeRecord;
  /**
   * Hands an existing node to another machine (an admin allowed it): records
   * the new machine-id and ends the allowance. The node keeps its id, samples
   * and acked position. Written at once.
   */
  replaceNode(nodeId: number, machineId: string, now: number): NodeRecord;
  /** Allows the next join under the node's name until `until` (ms); null withdraws the allowance. Written at once. */
  allowReplacement(nodeId: number, until: number | null): void;
  /**
   * Deletes a node and, by the schema's cascades, its credentials, samples,
   * workloads and events (deploy jobs keep its name). Queued behind the
   * writes already waiting, so none of them lands on a deleted node; the
   * node leaves memory once `done` reports it on disk.
   */
  removeNode(nodeId: number, done: (err: Error | undefined) => void): void;
  setFacts(nodeId: number, facts: HostFacts, now: number): void;
  setOnline(nodeId: number, online: boolean, now: number): void;
  /** Notes that the node was heard from; kept in memory and written by persistLastSeen. */
  touchNode(nodeId: number, now: number): void;
  /** Writes the last-seen times that moved since the last call (the gateway calls it every minute). */
  persistLastSeen(): void;
  markAllOffline(): void;
  /**
   * Stores samples not stored before and the agent's loss report, and moves
   * the node's acked sequence number; `done` runs when that is on disk
   * (then `ackedSeq` of the node's record is current) or failed.
   */
  insertSamples(nodeId: number, rows: SampleRow[], report: SamplesReport, now: number, done?: (err: Error | undefined) => void): void;
  /** Moves the node's acked sequence number to `seq` (a workloads delta stored meanwhile); `done` as for insertSamples. */
  advanceAcked(nodeId: number, seq: number, done?: (err: Error | undefined) => void): void;
  /** Counts samples refused for their timestamp. */
  countRejected(nodeId: number, n: number): void;
  latestSample(nodeId: number): LatestSample | undefined;
  /** Raw use points of a node since `since` (ms), oldest first. */
  usePoints(nodeId: number, since: number): UsePoint[];
  /** Stored raw samples of a node since `since` (ms), oldest first, with their sequence numbers. */
  samplePoints(nodeId: number, since: number, limit: number): (UsePoint & { seq: number })[];
  /** Rolls raw samples older than `rawBefore` into hourly rows and deletes them. Returns rows deleted. */
  rollup(rawBefore: number): number;
  insertToken(token: TokenRecord): void;
  getToken(id: string): TokenRecord | undefined;
  listTokens(): TokenRecord[];
  revokeToken(id: string, now: number): TokenRecord | undefined;
  /** Revokes a node's live credentials; returns them as revoked. */
  revokeNodeTokens(nodeId: number, now: number): TokenRecord[];
  touchToken(id: string, now: number): void;
  /** Counts one join made with a join token; false when it had no use left. */
  useToken(id: string, now: number): boolean;
  close(): void;
}

export interface StoreOptions {
  /** Path of the database file, or ':memory:'; opened (and closed) by the store. */
  path?: string;
  /** A database already opened by {@link openDatabase}, shared with other stores; the caller closes it. */
  db?: Database.Database;
  /** Where ingest writes go (default: each at once, in its own transaction). */
  commits?: Committer;
}

/**
 * Opens a database file in WAL mode and brings its schema up to date.
 * `exclusive`: this connection alone, with no -shm file (see openHubDatabase).
 * synchronous=FULL: a commit is fsync'd before it returns, so an ack sent
 * after it survives a power cut (NORMAL would lose the last commits).
 */
export function openDatabase(path: string, opts: { exclusive?: boolean } = {}): Database.Database {
  const db = new Database(path);
  // Exclusive locking keeps the WAL index in memory instead of the -shm file, which a full disk cannot hold.
  if (opts.exclusive) db.pragma('locking_mode = EXCLUSIVE');
  try {
    db.pragma('journal_mode = WAL');
  } catch (err) {
    db.close();
    throw err;
  }
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Opens the hub's database, also when its disk is full: a WAL database needs
 * a -shm file to be opened by several connections, and creating it fails
 * with no room left. Then the hub opens it alone (exclusive locking, its
 * WAL index in memory), serves what it has, and writes again when it can.
 */
export function openHubDatabase(path: string, log: { warn(obj: object, msg: string): void }): { db: Database.Database; exclusive: boolean } {
  try {
    return { db: openDatabase(path), exclusive: false };
  } catch (err) {
    if (!isStorageFault(err)) throw err;
    log.warn({ err: (err as Error).message }, 'cannot open the database the usual way (disk full?); opening it for this process alone');
    return { db: openDatabase(path, { exclusive: true }), exclusive: true };
  }
}

interface NodeRow {
  id: number; name: string; machine_id: string; facts_json: string | null; agent_version: string | null;
  first_seen: number; last_seen: number; online: number; acked_seq: number | null; lost_json: string | null; rejected: number | null;
  progress_seen: number | null; replace_until: number | null;
}
interface TokenRow {
  id: string; role: TokenRole; hash: string; node_id: number | null; label: string;
  created_at: number; expires_at: number | null; revoked_at: number | null; last_used_at: number | null;
  max_uses: number | null; uses: number; replace_node: string | null; scope_json: string | null;
}

const sumLost = (l: LostCounts) => l.overflow + l.expired + l.corrupt + l.renumbered + l.unwritten;

function parseLost(json: string | null): LostCounts {
  try {
    return { ...NO_LOSS, ...(JSON.parse(json ?? '{}') as Partial<LostCounts>) };
  } catch {
    return { ...NO_LOSS };
  }
}

const toNode = (r: NodeRow): NodeRecord => {
  const lost = parseLost(r.lost_json);
  return {
    id: r.id,
    name: r.name,
    machineId: r.machine_id,
    facts: r.facts_json ? (JSON.parse(r.facts_json) as HostFacts) : null,
    agentVersion: r.agent_version,
    firstSeen: r.first_seen,
    lastSeen: Math.max(r.last_seen, r.progress_seen ?? 0),
    online: r.online === 1,
    ackedSeq: r.acked_seq ?? 0,
    dropped: sumLost(lost),
    lost,
    rejected: r.rejected ?? 0,
    replaceUntil: r.replace_until,
  };
};

const toToken = (r: TokenRow): TokenRecord => ({
  id: r.id, role: r.role, hash: r.hash, nodeId: r.node_id, label: r.label,
  createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at, lastUsedAt: r.last_used_at,
  maxUses: r.max_uses, uses: r.uses, replaceNode: r.replace_node,
  scope: r.scope_json === null ? null : JSON.parse(r.scope_json) as TokenScope,
});

const HOUR = 3_600_000;

/** An hour rolled up twice (late samples) keeps the average of all its samples, weighted by their counts. */
const weightedAvg = (col: string) => `CASE WHEN ${col} IS NULL THEN excluded.${col} WHEN excluded.${col} IS NULL THEN ${col}
  ELSE (${col} * n + excluded.${col} * excluded.n) / (n + excluded.n) END`;

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1);
  return sorted[Math.max(0, i)] ?? null;
}

function summarize(values: (number | null)[]): [number | null, number | null, number | null] {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return [null, null, null];
  const avg = v.reduce((a, b) => a + b, 0) / v.length;
  return [avg, percentile(v, 0.95), v[v.length - 1] ?? null];
}

/** Opens (and migrates) the database, loads the nodes, and prepares every statement once. */
export function createStore(opts: StoreOptions): Store {
  if (!opts.db && !opts.path) throw new Error('createStore needs a path or an open database');
  const owned = !opts.db;
  const db = opts.db ?? openDatabase(opts.path!);
  const commits = opts.commits ?? immediateCommitter(db);

  const q = {
    nodes: db.prepare<[], NodeRow>(`SELECT n.id, n.name, n.machine_id, n.facts_json, n.agent_version, n.first_seen, n.last_seen, n.online,
      p.acked_seq, p.lost_json, p.rejected, p.last_seen AS progress_seen, n.replace_until FROM nodes n LEFT JOIN node_progress p ON p.node_id = n.id`),
    replaceNode: db.prepare('UPDATE nodes SET machine_id = ?, replace_until = NULL WHERE id = ?'),
    allowReplacement: db.prepare('UPDATE nodes SET replace_until = ? WHERE id = ?'),
    deleteNode: db.prepare('DELETE FROM nodes WHERE id = ?'),
    insertNode: db.prepare('INSERT INTO nodes (name, machine_id, first_seen, last_seen) VALUES (?, ?, ?, ?)'),
    insertProgress: db.prepare('INSERT OR IGNORE INTO node_progress (node_id) VALUES (?)'),
    setFacts: db.prepare('UPDATE nodes SET facts_json = ?, agent_version = ?, last_seen = ? WHERE id = ?'),
    setOnline: db.prepare('UPDATE nodes SET online = ?, last_seen = ? WHERE id = ?'),
    touch: db.prepare('UPDATE node_progress SET last_seen = ? WHERE node_id = ?'),
    allOffline: db.prepare('UPDATE nodes SET online = 0 WHERE online = 1'),
    insertSample: db.prepare('INSERT OR IGNORE INTO samples (node_id, seq, ts, cpu_used, mem_used, data_json) VALUES (?, ?, ?, ?, ?, ?)'),
    setProgress: db.prepare('UPDATE node_progress SET acked_seq = MAX(acked_seq, ?), lost_json = ? WHERE node_id = ?'),
    setAcked: db.prepare('UPDATE node_progress SET acked_seq = MAX(acked_seq, ?) WHERE node_id = ?'),
    setRejected: db.prepare('UPDATE node_progress SET rejected = ? WHERE node_id = ?'),
    latest: db.prepare<[number], { seq: number; ts: number; cpu_used: number | null; mem_used: number | null; data_json: string }>(
      'SELECT seq, ts, cpu_used, mem_used, data_json FROM samples WHERE node_id = ? ORDER BY seq DESC LIMIT 1'),
    rawPoints: db.prepare<[number, number], { ts: number; cpu_used: number | null; mem_used: number | null }>(
      'SELECT ts, cpu_used, mem_used FROM samples WHERE node_id = ? AND ts >= ? ORDER BY ts'),
    points: db.prepare<[number, number, number], { seq: number; ts: number; cpu_used: number | null; mem_used: number | null }>(
      'SELECT seq, ts, cpu_used, mem_used FROM samples WHERE node_id = ? AND ts >= ? ORDER BY seq LIMIT ?'),
    oldRaw: db.prepare<[number], { node_id: number; ts: number; cpu_used: number | null; mem_used: number | null }>(
      'SELECT node_id, ts, cpu_used, mem_used FROM samples WHERE ts < ? ORDER BY node_id, ts'),
    upsertHour: db.prepare(`INSERT INTO sample_hours (node_id, hour, n, cpu_avg, cpu_p95, cpu_max, mem_avg, mem_p95, mem_max)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (node_id, hour) DO UPDATE SET n = n + excluded.n,
        cpu_avg = ${weightedAvg('cpu_avg')}, cpu_p95 = MAX(cpu_p95, excluded.cpu_p95), cpu_max = MAX(cpu_max, excluded.cpu_max),
        mem_avg = ${weightedAvg('mem_avg')}, mem_p95 = MAX(mem_p95, excluded.mem_p95), mem_max = MAX(mem_max, excluded.mem_max)`),
    deleteRaw: db.prepare('DELETE FROM samples WHERE ts < ?'),
    insertToken: db.prepare(`INSERT INTO tokens (id, role, hash, node_id, label, created_at, expires_at, revoked_at, last_used_at, max_uses, uses, replace_node, scope_json)
      VALUES (@id, @role, @hash, @nodeId, @label, @createdAt, @expiresAt, @revokedAt, @lastUsedAt, @maxUses, @uses, @replaceNode, @scopeJson)`),
    token: db.prepare<[string], TokenRow>('SELECT * FROM tokens WHERE id = ?'),
    tokens: db.prepare<[], TokenRow>('SELECT * FROM tokens ORDER BY created_at, id'),
    revoke: db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    revokeNode: db.prepare<[number, number], TokenRow>("UPDATE tokens SET revoked_at = ? WHERE node_id = ? AND role = 'node' AND revoked_at IS NULL RETURNING *"),
    touchToken: db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?'),
    useToken: db.prepare('UPDATE tokens SET uses = uses + 1, last_used_at = ? WHERE id = ? AND (max_uses IS NULL OR uses < max_uses)'),
  };

  // Every node in memory, by id and by name; the sorted list is rebuilt only when a node is added.
  const byId = new Map<number, NodeRecord>();
  const byName = new Map<string, NodeRecord>();
  let sorted: NodeRecord[] | undefined;
  const remember = (n: NodeRecord) => {
    byId.set(n.id, n);
    byName.set(n.name, n);
    sorted = undefined;
  };
  const forget = (n: NodeRecord) => {
    byId.delete(n.id);
    if (byName.get(n.name) === n) byName.delete(n.name);
    sorted = undefined;
    latestCache.delete(n.id);
    unsavedSeen.delete(n.id);
  };
  for (const row of q.nodes.all()) remember(toNode(row));
  /** Last-seen times that moved since they were last written. */
  const unsavedSeen = new Set<number>();

  // The newest sample of each node, kept in memory: /metrics and the node list read it on every call.
  const latestCache = new Map<number, LatestSample>();

  const rollup = db.transaction((rawBefore: number) => {
    const cutoff = Math.floor(rawBefore / HOUR) * HOUR;
    const rows = q.oldRaw.all(cutoff);
    const groups = new Map<string, { nodeId: number; hour: number; cpu: (number | null)[]; mem: (number | null)[] }>();
    for (const r of rows) {
      const hour = Math.floor(r.ts / HOUR) * HOUR;
      const key = `${r.node_id}:${hour}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { nodeId: r.node_id, hour, cpu: [], mem: [] }));
      g.cpu.push(r.cpu_used);
      g.mem.push(r.mem_used);
    }
    for (const g of groups.values()) {
      q.upsertHour.run(g.nodeId, g.hour, g.cpu.length, ...summarize(g.cpu), ...summarize(g.mem));
    }
    return q.deleteRaw.run(cutoff).changes;
  });

  const join = db.transaction((name: string, machineId: string, now: number) => {
    const id = Number(q.insertNode.run(name, machineId, now, now).lastInsertRowid);
    q.insertProgress.run(id);
    return id;
  });

  return {
    getNodeByName: (name) => byName.get(name),
    getNodeById: (id) => byId.get(id),
    listNodes: () => (sorted ??= [...byId.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))).slice(),
    joinNode(name, machineId, now) {
      // Machine-id is not proof of anything (every local user reads it; cloned SD cards share it): a held name is refused.
      if (byName.has(name)) throw nameTaken(`node name '${name}' is taken`, undefined, { node: name });
      // Two names with one DNS label would have the later one answer for the earlier in DNS.
      const label = dnsLabel(name);
      for (const other of byId.values()) {
        if (dnsLabel(other.name) === label) {
          throw nameTaken(`node name '${name}' maps to the DNS label '${label}' of node '${other.name}'; pick another name`, undefined, { node: other.name, label });
        }
      }
      const id = join(name, machineId, now);
      const node: NodeRecord = {
        id, name, machineId, facts: null, agentVersion: null, firstSeen: now, lastSeen: now, online: false,
        ackedSeq: 0, dropped: 0, lost: { ...NO_LOSS }, rejected: 0, replaceUntil: null,
      };
      remember(node);
      return node;
    },
    replaceNode(nodeId, machineId, _now) {
      const n = byId.get(nodeId);
      if (!n) throw new Error(`replaceNode: no node with id ${nodeId}`);
      q.replaceNode.run(machineId, nodeId);
      n.machineId = machineId;
      n.replaceUntil = null;
      return n;
    },
    allowReplacement(nodeId, until) {
      const n = byId.get(nodeId);
      if (!n) return;
      q.allowReplacement.run(until, nodeId);
      n.replaceUntil = until;
    },
    removeNode(nodeId, done) {
      const n = byId.get(nodeId);
      if (!n) {
        done(undefined);
        return;
      }
      commits.enqueue(() => void q.deleteNode.run(nodeId), (err) => {
        if (!err) forget(n);
        done(err);
      });
    },
    setFacts(nodeId, facts, now) {
      const n = byId.get(nodeId);
      if (n) { n.facts = facts; n.agentVersion = facts.agentVersion; n.lastSeen = now; }
      const json = JSON.stringify(facts);
      commits.enqueue(() => void q.setFacts.run(json, facts.agentVersion, now, nodeId));
    },
    setOnline(nodeId, online, now) {
      const n = byId.get(nodeId);
      if (n) { n.online = online; n.lastSeen = now; }
      unsavedSeen.delete(nodeId);
      commits.enqueue(() => void q.setOnline.run(online ? 1 : 0, now, nodeId));
    },
    touchNode(nodeId, now) {
      const n = byId.get(nodeId);
      if (!n) return;
      n.lastSeen = now;
      unsavedSeen.add(nodeId);
    },
    persistLastSeen() {
      if (unsavedSeen.size === 0) return;
      const seen = [...unsavedSeen].flatMap((id) => { const n = byId.get(id); return n ? [[id, n.lastSeen] as const] : []; });
      unsavedSeen.clear();
      commits.enqueue(() => { for (const [id, ts] of seen) q.touch.run(ts, id); });
    },
    markAllOffline() {
      for (const n of byId.values()) n.online = false;
      commits.enqueue(() => void q.allOffline.run());
    },
    insertSamples(nodeId, rows, report, now, done) {
      const n = byId.get(nodeId);
      let top: SampleRow | undefined;
      for (const r of rows) if (!top || r.sample.seq > top.sample.seq) top = r;
      const upTo = Math.max(report.upTo ?? 0, top?.sample.seq ?? 0);
      const lost = report.lost ?? { ...NO_LOSS, overflow: report.dropped };
      const lostJson = JSON.stringify(lost);
      const json = rows.map((r) => JSON.stringify(r.sample.data));
      commits.enqueue(() => {
        rows.forEach(({ sample, cpuUsed, memUsed }, i) => q.insertSample.run(nodeId, sample.seq, Math.round(sample.ts), cpuUsed, memUsed, json[i]));
        q.setProgress.run(upTo, lostJson, nodeId);
      }, (err) => {
        if (!err && n) {
          if (upTo > n.ackedSeq) n.ackedSeq = upTo;
          n.lost = lost;
          n.dropped = report.dropped;
          n.lastSeen = now;
          unsavedSeen.add(nodeId);
          const cached = latestCache.get(nodeId);
          if (top && (!cached || top.sample.seq > cached.seq)) {
            latestCache.set(nodeId, { seq: top.sample.seq, ts: Math.round(top.sample.ts), cpuUsed: top.cpuUsed, memUsed: top.memUsed, data: top.sample.data });
          }
        }
        done?.(err);
      });
    },
    advanceAcked(nodeId, seq, done) {
      const n = byId.get(nodeId);
      commits.enqueue(() => void q.setAcked.run(seq, nodeId), (err) => {
        if (!err && n && seq > n.ackedSeq) n.ackedSeq = seq;
        done?.(err);
      });
    },
    countRejected(nodeId, count) {
      const n = byId.get(nodeId);
      if (!n || count <= 0) return;
      n.rejected += count;
      const total = n.rejected;
      commits.enqueue(() => void q.setRejected.run(total, nodeId));
    },
    latestSample(nodeId) {
      const cached = latestCache.get(nodeId);
      if (cached) return cached;
      const r = q.latest.get(nodeId);
      if (!r) return undefined;
      const latest = { seq: r.seq, ts: r.ts, cpuUsed: r.cpu_used, memUsed: r.mem_used, data: JSON.parse(r.data_json) as SampleData };
      latestCache.set(nodeId, latest);
      return latest;
    },
    usePoints: (nodeId, since) => q.rawPoints.all(nodeId, since).map((r) => ({ ts: r.ts, cpuUsed: r.cpu_used, memUsed: r.mem_used })),
    samplePoints: (nodeId, since, limit) =>
      q.points.all(nodeId, since, limit).map((r) => ({ seq: r.seq, ts: r.ts, cpuUsed: r.cpu_used, memUsed: r.mem_used })),
    rollup: (rawBefore) => rollup(rawBefore),
    insertToken: ({ scope, ...t }) => void q.insertToken.run({ ...t, scopeJson: scope === null ? null : JSON.stringify(scope) }),
    getToken: (id) => { const r = q.token.get(id); return r && toToken(r); },
    listTokens: () => q.tokens.all().map(toToken),
    revokeToken(id, now) {
      q.revoke.run(now, id);
      const r = q.token.get(id);
      return r && toToken(r);
    },
    revokeNodeTokens: (nodeId, now) => q.revokeNode.all(now, nodeId).map(toToken),
    touchToken: (id, now) => void q.touchToken.run(now, id),
    useToken: (id, now) => q.useToken.run(now, id).changes === 1,
    close: () => { if (owned) db.close(); },
  };
}

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this hub knows (${MIGRATIONS.length}); upgrade muster`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
