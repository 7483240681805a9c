/**
 * Assembles the hub's HTTP and WebSocket server without listening:
 * tests call `inject()` or listen on port 0; only hub/main.ts listens for real.
 */
import { createReadStream, existsSync } from 'node:fs';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { AGENT_PATH, MAX_FRAME_BYTES } from '../protocol/index.ts';
import type { Store } from './store.ts';
import type { TokenService } from './tokens.ts';
import type { AgentGateway, Logger } from './agent-gateway.ts';
import { MusterError, badRequest, nodeNotFound } from './errors.ts';
import { createAccessControl, formatScope, parseScope, scopeNodeList } from './access.ts';
import type { AuditLog } from './audit.ts';
import { registerTeamRoutes } from './routes/team.ts';
import type { TokenRole } from './store.ts';
import { nodeDetail, nodeSummary } from './views.ts';
import { parseDuration } from './durations.ts';
import type { Inventory } from './inventory.ts';
import type { WorkloadStore } from './workload-store.ts';
import { registerWorkloadRoutes } from './routes/workloads.ts';
import { registerMetricsRoute } from './routes/metrics.ts';
import { registerPrometheusSd } from './routes/prometheus-sd.ts';
import { registerNodeSd } from './routes/node-sd.ts';
import { registerDeployRoutes } from './routes/deploys.ts';
import type { DeployService } from './deploys.ts';
import type { CapacityDeps } from './capacity.ts';
import type { HourPoint, SampleHistory } from './sample-history.ts';
import type { AlertEngine } from './alerts/engine.ts';
import { registerAlertRoutes } from './routes/alerts.ts';
import type { SilenceStore } from './alerts/silences.ts';
import type { StorageHealth } from './group-commit.ts';
import type { AgentBundle } from './agent-bundle.ts';
import type { AgentUpgrades } from './agent-upgrades.ts';
import { registerAgentRoutes } from './routes/agents.ts';
import type { Membership } from './membership.ts';
import { registerNodeAdminRoutes } from './routes/node-admin.ts';
import { registerLogRoutes } from './routes/logs.ts';
import type { LogStore } from './logs/log-store.ts';

import type { HubMetrics } from './metrics/metrics.ts';

export interface ServerDeps {
  store: Store;
  /** A node's use by the hour, for `samples?resolution=1h`. */
  history: Pick<SampleHistory, 'hourly'>;
  tokens: TokenService;
  /** Who did what: every write through the API and every refusal (GET /audit reads it). */
  audit: Pick<AuditLog, 'record' | 'list'>;
  /** Replacing and removing nodes. */
  membership: Pick<Membership, 'allowReplacement' | 'remove'>;
  gateway: AgentGateway;
  inventory: Pick<Inventory, 'get' | 'views'>;
  events: Pick<WorkloadStore, 'listEvents'>;
  metrics: Pick<HubMetrics, 'render' | 'renderFleet' | 'renderHub' | 'renderNode'>;
  now: () => number;
  /** The DNS domain names are shown under (default `internal`). */
  domain?: string;
  /** A pino logger; the hub's subsystems share it. */
  log: Logger;
  version: string;
  /** Path of the bundled agent served at /dl/muster-agent.js, so a new node needs only curl and Node. */
  agentBundle?: string;
  /** Path of the agent installer served at /install.sh (the one line `muster token create` prints runs it). */
  installScript?: string;
  deploys: Pick<DeployService, 'submit' | 'get' | 'list' | 'output'>;
  capacity: CapacityDeps;
  alerts: Pick<AlertEngine, 'list'>;
  silences: SilenceStore;
  /** The storage's health, for /healthz; absent, reported healthy. */
  storage?: { health(): StorageHealth };
  /** /metrics and service discovery without a token (`--metrics-public`). */
  metricsPublic?: boolean;
  /** The bundle agents upgrade to, and the upgrades in flight (GET /agents, POST /agents/upgrade). */
  bundle?: AgentBundle;
  upgrades?: Pick<AgentUpgrades, 'request' | 'list'>;
  /** HTTPS and WSS (the hub's default); absent, plain HTTP (`--no-tls`). `caPem` is served at /cacerts. */
  tls?: { key: Buffer; cert: Buffer; caPem?: string; caHash?: string };
  /** The recent-log store, for GET /logs and /logs/stream (`muster logs`); absent, those routes do not exist. */
  logs?: Pick<LogStore, 'query' | 'lastId' | 'onStored'>;
}

const WEEK_MS = 7 * 86_400_000;
/** Roles a token can be made for through the API; node credentials are made at join. */
const CREATABLE_ROLES: readonly TokenRole[] = ['agent', 'admin', 'deployer', 'viewer', 'metrics'];
/** Most joins one token may allow: beyond any fleet this hub is for. */
const MAX_USES = 100_000;
const percent = (f: number | null) => (f === null ? null : Math.round(f * 1000) / 10);
const wholeBytes = (b: number | null) => (b === null ? null : Math.round(b));

/** One hour of `samples?resolution=1h`: CPU in percent of the node and memory in bytes, as the raw samples show them. */
function hourView(h: HourPoint) {
  return {
    ts: new Date(h.hour).toISOString(),
    n: h.n,
    cpuPercent: { avg: percent(h.cpuAvg), p95: percent(h.cpuP95), max: percent(h.cpuMax) },
    memUsedBytes: { avg: wholeBytes(h.memAvg), p95: wholeBytes(h.memP95), max: wholeBytes(h.memMax) },
  };
}

/** Builds the fastify app with every route; the caller decides whether and where to listen. */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { store, tokens, gateway } = deps;
  const app = Fastify({ loggerInstance: deps.log as FastifyBaseLogger, bodyLimit: 64 * 1024, ...(deps.tls ? { https: { key: deps.tls.key, cert: deps.tls.cert } } : {}) });
  // First, so that every route registered below gets its line of hub/access.ts's ROUTES, or stops the hub.
  createAccessControl({ tokens, audit: deps.audit, now: deps.now, metricsPublic: deps.metricsPublic ?? false }).install(app);

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof MusterError) {
      return reply.code(err.statusCode).send({ error: { code: err.code, message: err.message, ...err.details } });
    }
    const e = err as { statusCode?: number; validation?: unknown; message?: string; code?: string };
    if (e.validation || (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)) {
      return reply.code(e.statusCode ?? 400).send({ error: { code: 'MUSTER_ERR_BAD_REQUEST', message: e.message ?? 'bad request' } });
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: { code: 'MUSTER_ERR_INTERNAL', message: 'internal error; see the hub log' } });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: { code: 'MUSTER_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  await app.register(websocket, {
    options: {
      maxPayload: MAX_FRAME_BYTES,
      // Agents compress their large frames themselves (protocol 2, protocol/compression.ts): a zlib
      // context per link cost ~75 KiB each and a thread-pool round trip per frame.
      perMessageDeflate: false,
    },
  });

  app.get(AGENT_PATH, { websocket: true }, (socket, req) => gateway.accept(socket, `${req.ip}:${req.socket.remotePort ?? 0}`));

  app.get('/dl/muster-agent.js', async (_req, reply) => {
    if (!deps.agentBundle || !existsSync(deps.agentBundle)) {
      return reply.code(404).send({ error: { code: 'MUSTER_ERR_NO_AGENT_BUNDLE', message: 'this hub has no agent bundle; run `npm run build` where the hub runs' } });
    }
    return reply.type('text/javascript; charset=utf-8').send(createReadStream(deps.agentBundle));
  });

  // The installer checks the bundle against this before it installs it; in sha256sum's format, so `sha256sum -c` takes it too.
  app.get('/dl/muster-agent.js.sha256', async (_req, reply) => {
    const info = deps.bundle?.info();
    if (!info) return reply.code(404).send({ error: { code: 'MUSTER_ERR_NO_AGENT_BUNDLE', message: 'this hub has no agent bundle; run `npm run build` where the hub runs' } });
    return reply.type('text/plain; charset=utf-8').send(`${info.sha256}  muster-agent.js\n`);
  });

  // Public like /cacerts: it holds no secrets, and the one line that runs it fetches it over the pinned CA.
  app.get('/install.sh', async (_req, reply) => {
    if (!deps.installScript || !existsSync(deps.installScript)) {
      return reply.code(404).send({ error: { code: 'MUSTER_ERR_NO_INSTALLER', message: 'this hub has no agent installer (install/agent-install.sh is missing from its package)' } });
    }
    return reply.type('text/x-shellscript; charset=utf-8').send(createReadStream(deps.installScript));
  });

  // /metrics and service discovery want a metrics or admin token unless --metrics-public (hub/access.ts): a render
  // of every node is work on the hub's only thread, and what runs where is worth keeping to oneself.
  registerMetricsRoute(app, deps.metrics);
  registerPrometheusSd(app, { store, inventory: deps.inventory }, '/api/v1/sd/prometheus');
  registerNodeSd(app, { store, tls: deps.tls !== undefined }, '/api/v1/sd/nodes');

  // The CA agents pin (k3s serves its own the same way): public, and worthless without the pin to check it against.
  app.get('/cacerts', async (_req, reply) => {
    if (!deps.tls?.caPem) return reply.code(404).send({ error: { code: 'MUSTER_ERR_NO_CA', message: 'this hub serves a certificate of its own (--tls-cert) or no TLS; there is no CA of the hub\'s to fetch' } });
    return reply.type('application/x-pem-file').send(deps.tls.caPem);
  });

  // 200 while degraded: the hub still serves the API, DNS and /metrics, so a supervisor must not restart it.
  app.get('/healthz', async () => {
    const h = deps.storage?.health() ?? { ok: true };
    return {
      status: h.ok ? 'ok' : 'degraded',
      version: deps.version,
      agentsConnected: gateway.connected().length,
      storage: h.ok ? { ok: true } : { ok: false, code: h.code, error: h.message, since: new Date(h.since).toISOString(), failedCommits: h.failures },
    };
  });

  // Who may call each route of the API is in hub/access.ts, not here.
  await app.register(async (api) => {
    api.get('/nodes', async () => ({ nodes: store.listNodes().map((n) => nodeSummary(store, n)) }));

    api.get<{ Params: { name: string } }>('/nodes/:name', async (req) => {
      const n = store.getNodeByName(req.params.name);
      if (!n) throw nodeNotFound(`no node named '${req.params.name}'`);
      return nodeDetail(store, n);
    });

    api.get<{ Params: { name: string }; Querystring: { since?: string; limit?: string; resolution?: string } }>('/nodes/:name/samples', async (req) => {
      const n = store.getNodeByName(req.params.name);
      if (!n) throw nodeNotFound(`no node named '${req.params.name}'`);
      const resolution = req.query.resolution ?? 'raw';
      if (resolution !== 'raw' && resolution !== '1h') throw badRequest(`resolution must be raw or 1h, not ${JSON.stringify(resolution)}`);
      // Raw samples are kept 48 h, so "all of them" is a fair default; hours go back further and default to a week.
      const q = req.query.since;
      const ago = q === undefined ? undefined : parseDuration(q);
      const since = q === undefined ? (resolution === '1h' ? deps.now() - WEEK_MS : 0)
        : ago !== undefined ? deps.now() - ago : /^\d+$/.test(q) ? Number(q) : Date.parse(q);
      if (Number.isNaN(since)) throw badRequest(`since must be milliseconds since the epoch, an ISO time or a duration like 7d, not ${JSON.stringify(q)}`);
      const limit = req.query.limit === undefined ? 10_000 : Number(req.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw badRequest('limit must be an integer from 1 to 100000');
      if (resolution === '1h') {
        return { node: n.name, resolution, samples: deps.history.hourly(n.id, since).slice(0, limit).map(hourView) };
      }
      return {
        node: n.name,
        ackedSeq: n.ackedSeq,
        dropped: n.dropped,
        samples: store.samplePoints(n.id, since, limit).map((p) => ({
          seq: p.seq, ts: new Date(p.ts).toISOString(),
          cpuPercent: p.cpuUsed === null ? null : Math.round(p.cpuUsed * 1000) / 10,
          memUsedBytes: p.memUsed,
        })),
      };
    });

    api.get('/tokens', async () => ({
      tokens: tokens.list().map((t) => ({
        id: t.id, role: t.role, name: t.label, label: t.label, scope: t.scope && { services: t.scope.services, nodes: scopeNodeList(t.scope) }, node: t.nodeId === null ? null : store.getNodeById(t.nodeId)?.name ?? null,
        createdAt: new Date(t.createdAt).toISOString(),
        expiresAt: t.expiresAt === null ? null : new Date(t.expiresAt).toISOString(),
        revokedAt: t.revokedAt === null ? null : new Date(t.revokedAt).toISOString(),
        lastUsedAt: t.lastUsedAt === null ? null : new Date(t.lastUsedAt).toISOString(),
        uses: t.uses, maxUses: t.maxUses, usesLeft: t.maxUses === null ? null : Math.max(0, t.maxUses - t.uses), replace: t.replaceNode,
      })),
    }));

    api.post<{ Body: { role?: unknown; ttl?: unknown; name?: unknown; label?: unknown; uses?: unknown; replace?: unknown; services?: unknown; nodes?: unknown } }>('/tokens', async (req, reply) => {
      const body = req.body ?? {};
      if (typeof body !== 'object') throw badRequest('body must be a JSON object');
      const role = body.role ?? 'agent';
      if (typeof role !== 'string' || !CREATABLE_ROLES.includes(role as TokenRole)) throw badRequest(`role must be one of ${CREATABLE_ROLES.join(', ')}, not ${JSON.stringify(role)}`);
      // A person's token carries their name: it is who the audit log, jobs and silences name. `label` is its older spelling.
      if (body.name !== undefined && body.label !== undefined && body.name !== body.label) throw badRequest('give name or label, not both');
      const name = body.name ?? body.label;
      if (name !== undefined && (typeof name !== 'string' || name.length > 200)) throw badRequest('name must be a string of at most 200 characters');
      if ((role === 'viewer' || role === 'deployer') && (typeof name !== 'string' || !name.trim())) throw badRequest(`a ${role} token belongs to a person: give its name (muster token create --role ${role} --name NAME)`);
      if (role !== 'deployer' && (body.services !== undefined || body.nodes !== undefined)) throw badRequest('services and nodes scope deployer tokens only');
      const scope = role === 'deployer' ? parseScope(body.services, body.nodes) : undefined;
      // Absent: the role's default (join tokens an hour, see DEFAULT_TTL_MS); never has to be asked for, as 0.
      let ttlMs: number | undefined;
      if (body.ttl !== undefined && body.ttl !== null) {
        ttlMs = body.ttl === 0 || body.ttl === '0' ? 0 : typeof body.ttl === 'string' ? parseDuration(body.ttl) : undefined;
        if (ttlMs === undefined || (ttlMs === 0 && body.ttl !== 0 && body.ttl !== '0')) throw badRequest(`ttl must look like 30m, 1h or 7d, or be 0 for never, not ${JSON.stringify(body.ttl)}`);
      }
      let replaceNode: string | undefined;
      if (body.replace !== undefined && body.replace !== null) {
        if (role !== 'agent') throw badRequest('replace is for join tokens (role agent)');
        if (typeof body.replace !== 'string' || !store.getNodeByName(body.replace)) throw nodeNotFound(`no node named ${JSON.stringify(body.replace)} to replace`);
        replaceNode = body.replace;
      }
      // A token that replaces a node is consent to do it once, unless its maker asks for more.
      let maxUses: number | undefined = replaceNode !== undefined ? 1 : undefined;
      if (body.uses !== undefined && body.uses !== null) {
        if (role !== 'agent') throw badRequest('uses is for join tokens (role agent)');
        if (typeof body.uses !== 'number' || !Number.isInteger(body.uses) || body.uses < 1 || body.uses > MAX_USES) throw badRequest(`uses must be a whole number from 1 to ${MAX_USES}, not ${JSON.stringify(body.uses)}`);
        maxUses = body.uses;
      }
      const { token, record } = tokens.create(role as TokenRole, {
        ...(ttlMs !== undefined ? { ttlMs } : {}), label: typeof name === 'string' ? name.trim() : '',
        ...(maxUses !== undefined ? { maxUses } : {}), ...(replaceNode !== undefined ? { replaceNode } : {}), ...(scope ? { scope } : {}),
      });
      const expiresAt = record.expiresAt === null ? null : new Date(record.expiresAt).toISOString();
      // The id and the name, never the token: the audit log must not hold a secret.
      req.auditNote = {
        target: `${record.role} token ${record.id}${record.label ? ` for ${record.label}` : ''}`,
        detail: { id: record.id, role: record.role, name: record.label, expiresAt, ...(scope ? { scope: formatScope(scope) } : {}), ...(replaceNode ? { replace: replaceNode } : {}) },
      };
      reply.code(201);
      return {
        token, id: record.id, role: record.role, name: record.label, expiresAt,
        ...(scope ? { scope: { services: scope.services, nodes: scopeNodeList(scope) } } : {}),
        usesLeft: record.maxUses, replace: record.replaceNode,
        // What an agent pins the hub by: every join command carries it.
        caHash: deps.tls?.caHash ?? null,
      };
    });

    registerNodeAdminRoutes(api, { membership: deps.membership });
    registerTeamRoutes(api, { audit: deps.audit, now: deps.now });
    registerDeployRoutes(api, { store, inventory: deps.inventory, deploys: deps.deploys, capacity: deps.capacity });
    if (deps.upgrades && deps.bundle) registerAgentRoutes(api, { store, bundle: deps.bundle, upgrades: deps.upgrades });
    registerAlertRoutes(api, { alerts: deps.alerts, silences: deps.silences, now: deps.now });
    registerWorkloadRoutes(api, { store, inventory: deps.inventory, events: deps.events, now: deps.now, domain: deps.domain ?? 'internal' });
    if (deps.logs) registerLogRoutes(api, { store, logs: deps.logs, now: deps.now });

    api.delete<{ Params: { id: string } }>('/tokens/:id', async (req) => {
      req.auditNote = { target: `token ${req.params.id}` };
      const r = tokens.revoke(req.params.id);
      req.auditNote = { target: `${r.role} token ${r.id}${r.label ? ` of ${r.label}` : ''}`, detail: { id: r.id, role: r.role, name: r.label } };
      return { id: r.id, role: r.role, revokedAt: new Date(r.revokedAt ?? 0).toISOString() };
    });
  }, { prefix: '/api/v1' });

  return app;
}
