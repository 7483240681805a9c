/**
 * The audit log: every write through the API and every refusal, with who
 * (the token's name), when, what, from which address and how it ended; and
 * how each deploy ended, under the name of who asked for it. Kept in SQLite
 * beside the inventory, pruned past its retention (90 days by default).
 *
 * Token secrets never go in: the API records token ids and names, and what
 * still looks like a token is cut down to its id before it is stored.
 */
import type Database from 'better-sqlite3';
import type { DeployAction } from '../protocol/index.ts';
import type { Logger } from './agent-gateway.ts';

/** How long entries are kept unless the hub is told otherwise (`muster hub --audit-retention`). */
export const DEFAULT_AUDIT_RETENTION_MS = 90 * 86_400_000;

/**
 * ok: the write was done; refused: 403, the caller may not; failed: the
 * request was wrong or could not be done. A deploy's end: succeeded, failed
 * or timed out.
 */
export type AuditOutcome = 'ok' | 'refused' | 'failed' | 'succeeded' | 'timed out';

/** One entry as stored. */
export interface AuditEntry {
  id: number;
  ts: number;
  /** The token's name (a person, or `token <id>` for an unnamed one). */
  who: string;
  tokenId: string | null;
  role: string | null;
  /** `deploy.run`, `token.create`, `node.remove`...; for a refused read, the route (`GET /api/v1/tokens`). */
  action: string;
  /** What it was done to, in a few words (`web-1 on pi-3`, a token id, a node name). */
  target: string | null;
  method: string | null;
  path: string | null;
  /** The caller's address as the hub saw it. */
  address: string | null;
  outcome: AuditOutcome;
  /** The HTTP status, for requests. */
  status: number | null;
  /** The MUSTER_ERR_* code of a refusal or failure. */
  code: string | null;
  detail: Record<string, unknown>;
}

/** What a caller records; the log assigns the id. */
export type NewAuditEntry = Omit<AuditEntry, 'id' | 'tokenId' | 'role' | 'target' | 'method' | 'path' | 'address' | 'status' | 'code' | 'detail'>
  & Partial<Pick<AuditEntry, 'tokenId' | 'role' | 'target' | 'method' | 'path' | 'address' | 'status' | 'code' | 'detail'>>;

/** A query of the log: newest first. */
export interface AuditQuery {
  since?: number;
  until?: number;
  who?: string;
  limit: number;
}

export interface AuditLog {
  /** Stores an entry. Never throws: a full disk must not fail the request it describes (the hub's log says so). */
  record(entry: NewAuditEntry): void;
  list(q: AuditQuery): AuditEntry[];
  /** Deletes entries older than `before` (ms); returns how many. */
  prune(before: number): number;
}

export interface AuditLogDeps {
  /** A database opened by openDatabase (schema version 8 or later). */
  db: Database.Database;
  log: Logger;
}

/** Anything shaped like a muster token, secret and all. */
const TOKEN_LIKE = /muster_([a-z0-9]{12})_[A-Za-z0-9_-]{43}/g;

/** Cuts every token found in `text` down to its id: the audit log names tokens, it never holds one. */
export function scrubTokens(text: string): string {
  return text.replace(TOKEN_LIKE, 'muster_$1_<redacted>');
}

/** The audit log's name for a deploy action: `deploy.run`, `deploy.replace`, `container.restart`, `unit.start`... */
export function deployAuditAction(a: DeployAction): string {
  return a.kind === 'run' || a.kind === 'replace' ? `deploy.${a.kind}` : `${a.kind}.${a.action}`;
}

interface Row {
  id: number; ts: number; who: string; token_id: string | null; role: string | null; action: string; target: string | null;
  method: string | null; path: string | null; address: string | null; outcome: AuditOutcome; status: number | null; code: string | null; detail_json: string;
}

const toEntry = (r: Row): AuditEntry => ({
  id: r.id, ts: r.ts, who: r.who, tokenId: r.token_id, role: r.role, action: r.action, target: r.target, method: r.method, path: r.path,
  address: r.address, outcome: r.outcome, status: r.status, code: r.code, detail: JSON.parse(r.detail_json) as Record<string, unknown>,
});

/** Prepares the statements once. */
export function createAuditLog(deps: AuditLogDeps): AuditLog {
  const { db, log } = deps;
  const q = {
    insert: db.prepare(`INSERT INTO audit (ts, who, token_id, role, action, target, method, path, address, outcome, status, code, detail_json)
      VALUES (@ts, @who, @tokenId, @role, @action, @target, @method, @path, @address, @outcome, @status, @code, @detail)`),
    list: db.prepare<{ since: number; until: number; who: string | null; limit: number }, Row>(`SELECT * FROM audit
      WHERE ts >= @since AND ts <= @until AND (@who IS NULL OR who = @who) ORDER BY ts DESC, id DESC LIMIT @limit`),
    prune: db.prepare('DELETE FROM audit WHERE ts < ?'),
  };
  const text = (s: string | null | undefined) => (s === null || s === undefined ? null : scrubTokens(s));
  return {
    record(e) {
      try {
        q.insert.run({
          ts: Math.round(e.ts), who: scrubTokens(e.who), tokenId: e.tokenId ?? null, role: e.role ?? null, action: e.action, target: text(e.target),
          method: e.method ?? null, path: text(e.path), address: e.address ?? null, outcome: e.outcome, status: e.status ?? null, code: e.code ?? null,
          detail: scrubTokens(JSON.stringify(e.detail ?? {})),
        });
      } catch (err) {
        log.error({ err, audit: { who: e.who, action: e.action, target: e.target, outcome: e.outcome } }, 'cannot write the audit log; the entry is only in this log');
      }
    },
    list: (query) => q.list.all({
      since: query.since ?? 0, until: query.until ?? Number.MAX_SAFE_INTEGER, who: query.who ?? null, limit: query.limit,
    }).map(toEntry),
    prune: (before) => q.prune.run(before).changes,
  };
}
