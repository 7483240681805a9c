/**
 * The logs API, from the hub's recent-log store (with or without Loki):
 *
 *   GET /api/v1/logs?service=&node=&container=&unit=&since=&until=&grep=&limit=
 *     the newest `limit` lines that match, merged across nodes in time order;
 *   GET /api/v1/logs/stream?...same...
 *     those lines, then every new one as it is stored, as NDJSON (one line
 *     object per line; `{}` keep-alives on a quiet stream).
 *
 * Reading logs needs the `read` permission (viewer, deployer, admin), as
 * hub/access.ts's route table says.
 *
 * `grep` is a JavaScript regular expression run on the hub's only thread, so
 * patterns that can backtrack without bound (a quantified group holding a
 * quantifier, backreferences) are refused, and a query examines at most a
 * bounded number of lines.
 */
import type { FastifyInstance } from 'fastify';
import type { Store } from '../store.ts';
import type { LogStore, StoredLine, LogQuery } from '../logs/log-store.ts';
import { badRequest, nodeNotFound } from '../errors.ts';
import { parseDuration } from '../durations.ts';

export interface LogRoutesDeps {
  store: Pick<Store, 'getNodeByName' | 'getNodeById'>;
  logs: Pick<LogStore, 'query' | 'lastId' | 'onStored'>;
  now: () => number;
}

/** One line as the API shows it. */
export interface LogLineView {
  /** Its place in the store: a later `after` for paging, increasing in arrival order. */
  id: number;
  /** RFC 3339 with nanoseconds. */
  time: string;
  node: string;
  service: string;
  /** The container name or the unit (or syslog identifier) the line came from. */
  instance: string;
  kind: 'docker' | 'journal';
  stream?: 'stdout' | 'stderr';
  level?: string;
  pid?: number;
  line: string;
}

/** What the log routes accept in their query string. */
export interface LogQueryString {
  service?: string;
  node?: string | string[];
  container?: string;
  unit?: string;
  since?: string;
  until?: string;
  grep?: string;
  limit?: string;
}

const DEFAULT_LIMIT = 1_000;
const MAX_LIMIT = 50_000;
/** A quantified group that holds a quantifier itself, or a backreference: the shapes that backtrack exponentially. */
const RISKY = /\((?:[^()\\]|\\.)*[*+}](?:[^()\\]|\\.)*\)\s*(?:[*+]|\{\d*,)|\\[1-9]|\\k</;

/** ISO time with nanoseconds. */
function isoNano(ms: number, ns: number): string {
  const iso = new Date(ms).toISOString(); // ...T12:34:56.789Z
  return `${iso.slice(0, -1)}${String(ns).padStart(6, '0')}Z`;
}

function view(l: StoredLine, nodeName: (id: number) => string): LogLineView {
  return {
    id: l.id, time: isoNano(l.ts, l.ns), node: nodeName(l.nodeId), service: l.service, instance: l.instance, kind: l.kind,
    ...(l.kind === 'docker' ? { stream: l.stderr ? 'stderr' as const : 'stdout' as const } : {}),
    ...(l.level ? { level: l.level } : {}),
    ...(l.pid !== null ? { pid: l.pid } : {}),
    line: l.line,
  };
}

/** A time given as a duration back (10m), milliseconds since the epoch, or an ISO time. */
function parseWhen(q: string, now: number, name: string): number {
  const ago = parseDuration(q);
  const t = ago !== undefined ? now - ago : /^\d+$/.test(q) ? Number(q) : Date.parse(q);
  if (Number.isNaN(t)) throw badRequest(`${name} must be a duration like 10m or 2h, milliseconds since the epoch, or an ISO time, not ${JSON.stringify(q)}`);
  return t;
}

/** Turns the query string into a store query; throws MUSTER_ERR_BAD_REQUEST or MUSTER_ERR_NODE_NOT_FOUND. */
export function parseLogQuery(qs: LogQueryString, deps: Pick<LogRoutesDeps, 'store' | 'now'>): LogQuery {
  const q: LogQuery = { limit: DEFAULT_LIMIT };
  const nodes = (Array.isArray(qs.node) ? qs.node : qs.node ? [qs.node] : []).flatMap((n) => n.split(',')).filter(Boolean);
  if (!qs.service && nodes.length === 0) throw badRequest('say whose logs: service=NAME or node=NAME (or both)');
  if (nodes.length) {
    q.nodeIds = nodes.map((name) => {
      const n = deps.store.getNodeByName(name);
      if (!n) throw nodeNotFound(`no node named '${name}'`);
      return n.id;
    });
  }
  if (qs.service) q.service = qs.service;
  if (qs.container && qs.unit) throw badRequest('give container or unit, not both');
  if (qs.container) q.container = qs.container;
  if (qs.unit) q.unit = qs.unit;
  const now = deps.now();
  if (qs.since) q.since = parseWhen(qs.since, now, 'since');
  if (qs.until) q.until = parseWhen(qs.until, now, 'until');
  if (qs.grep) {
    if (qs.grep.length > 256) throw badRequest('grep is at most 256 characters');
    if (RISKY.test(qs.grep)) throw badRequest('grep must not hold a quantified group with a quantifier inside, like (a+)+, nor a backreference: such patterns can hold the hub for minutes');
    try {
      q.grep = new RegExp(qs.grep);
    } catch (err) {
      throw badRequest(`grep is not a regular expression: ${(err as Error).message}`);
    }
  }
  if (qs.limit !== undefined) {
    const limit = Number(qs.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw badRequest(`limit must be a whole number from 1 to ${MAX_LIMIT}`);
    q.limit = limit;
  }
  return q;
}

/** Registers the routes inside the authenticated /api/v1 scope. */
export function registerLogRoutes(api: FastifyInstance, deps: LogRoutesDeps): void {
  const nodeName = (id: number) => deps.store.getNodeById(id)?.name ?? `#${id}`;

  api.get<{ Querystring: LogQueryString }>('/logs', async (req) => {
    const q = parseLogQuery(req.query, deps);
    return { lines: deps.logs.query(q).map((l) => view(l, nodeName)) };
  });

  api.get<{ Querystring: LogQueryString }>('/logs/stream', async (req, reply) => {
    const q = parseLogQuery(req.query, deps);
    // Whatever is stored from here on comes through the follow; what came before, through the first query.
    let cursor = deps.logs.lastId();
    const first = deps.logs.query(q);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    const write = (lines: StoredLine[]) => {
      if (lines.length === 0) return true;
      return res.write(lines.map((l) => JSON.stringify(view(l, nodeName))).join('\n') + '\n');
    };
    write(first);
    let pending = false;
    let closed = false;
    const pump = () => {
      pending = false;
      if (closed) return;
      for (;;) {
        const next = deps.logs.query({ ...q, since: undefined, afterId: cursor, limit: 5_000 });
        if (next.length === 0) break;
        cursor = next[next.length - 1]!.id;
        // A reader slower than the lines: wait for the socket to drain before reading more.
        if (!write(next)) {
          res.once('drain', () => { if (!pending) { pending = true; setImmediate(pump); } });
          return;
        }
        if (next.length < 5_000) break;
      }
    };
    const stop = deps.logs.onStored(() => {
      if (pending || closed) return;
      pending = true;
      setImmediate(pump);
    });
    const keepAlive = setInterval(() => res.write('{}\n'), 15_000);
    keepAlive.unref();
    req.raw.on('close', () => {
      closed = true;
      stop();
      clearInterval(keepAlive);
    });
  });
}

