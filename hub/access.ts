/**
 * Who may do what. Every HTTP route the hub serves has one line in ROUTES:
 * the permission it needs and, for a write, the name the audit log gives it.
 * Roles are lists of permissions (ROLE_PERMISSIONS). The access control puts
 * each route's line in the route's `config` as the route is registered (a
 * route with no line stops the hub from starting), checks the bearer token
 * against it on every request, and writes every write and every refusal to
 * the audit log. A deployer's scope (services, nodes) depends on what a
 * request asks for, so the deploy routes check it with checkDeployScope.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TokenRecord, TokenRole, TokenScope } from './store.ts';
import type { TokenService } from './tokens.ts';
import type { AuditLog, AuditOutcome } from './audit.ts';
import { badRequest, forbidden, routeWithoutAccess, unauthorized } from './errors.ts';

/**
 * public: anyone; link: the agent endpoint, which checks join tokens and node
 * credentials in its own handshake; scrape: /metrics and service discovery;
 * self: what a token is (whoami); read: everything there is to see; deploy:
 * recommend, deploy, container and unit actions (a deployer within its scope);
 * admin: tokens, nodes, silences, agent upgrades.
 */
export type Permission = 'public' | 'link' | 'scrape' | 'self' | 'read' | 'deploy' | 'admin';

/** What each role may do. agent and node tokens speak only on the agent link. */
export const ROLE_PERMISSIONS: Readonly<Record<TokenRole, readonly Permission[]>> = {
  admin: ['self', 'read', 'deploy', 'admin', 'scrape'],
  deployer: ['self', 'read', 'deploy'],
  viewer: ['self', 'read'],
  metrics: ['self', 'scrape'],
  agent: [],
  node: [],
};

/** One route's line: the permission it needs, and for a write the audit log's name for it. */
export interface RouteAccess {
  permission: Permission;
  /** Present for writes: every call (done, refused or failed) goes to the audit log under this name. */
  audit?: string;
}

const p = (permission: Permission, audit?: string): RouteAccess => (audit ? { permission, audit } : { permission });

/**
 * Every route of the hub, as `METHOD /path` the way fastify registers it.
 * HEAD follows GET. Reads name no audit action: only their refusals are recorded.
 */
export const ROUTES: Readonly<Record<string, RouteAccess>> = {
  'GET /agent/v1': p('link'),
  'GET /healthz': p('public'),
  'GET /cacerts': p('public'),
  'GET /install.sh': p('public'),
  'GET /dl/muster-agent.js': p('public'),
  'GET /dl/muster-agent.js.sha256': p('public'),

  'GET /metrics': p('scrape'),
  'GET /metrics/hub': p('scrape'),
  'GET /metrics/fleet': p('scrape'),
  'GET /metrics/nodes/:name': p('scrape'),
  'GET /api/v1/sd/prometheus': p('scrape'),
  'GET /api/v1/sd/nodes': p('scrape'),

  'GET /api/v1/whoami': p('self'),

  'GET /api/v1/nodes': p('read'),
  'GET /api/v1/nodes/:name': p('read'),
  'GET /api/v1/nodes/:name/samples': p('read'),
  'GET /api/v1/nodes/:name/processes': p('read'),
  'GET /api/v1/nodes/:name/containers': p('read'),
  'GET /api/v1/nodes/:name/units': p('read'),
  'GET /api/v1/nodes/:name/ports': p('read'),
  'GET /api/v1/services': p('read'),
  'GET /api/v1/services/:name': p('read'),
  'GET /api/v1/events': p('read'),
  'GET /api/v1/deploys': p('read'),
  'GET /api/v1/deploys/:id': p('read'),
  'GET /api/v1/alerts': p('read'),
  'GET /api/v1/silences': p('read'),
  'GET /api/v1/agents': p('read'),
  'GET /api/v1/audit': p('read'),
  'GET /api/v1/logs': p('read'),
  'GET /api/v1/logs/stream': p('read'),

  // Ranks nodes and changes nothing; a deployer sees only the nodes of its scope.
  'POST /api/v1/placements': p('deploy'),
  // The handler names the action (deploy.run, container.stop, unit.restart...) once it has read the body.
  'POST /api/v1/deploys': p('deploy', 'deploy'),

  'GET /api/v1/tokens': p('admin'),
  'POST /api/v1/tokens': p('admin', 'token.create'),
  'DELETE /api/v1/tokens/:id': p('admin', 'token.revoke'),
  'POST /api/v1/nodes/:name/replace': p('admin', 'node.replace'),
  'DELETE /api/v1/nodes/:name': p('admin', 'node.remove'),
  'POST /api/v1/silences': p('admin', 'silence.create'),
  'DELETE /api/v1/silences/:id': p('admin', 'silence.expire'),
  'POST /api/v1/agents/upgrade': p('admin', 'agent.upgrade'),
};

/** The token behind a request, as routes and the audit log see it. */
export interface Principal {
  tokenId: string;
  /** The token's name: a person's, or `token <id>` for an unnamed one. */
  name: string;
  role: TokenRole;
  scope: TokenScope | null;
  expiresAt: number | null;
}

/** What a handler tells the audit log about the write it did (or refused). */
export interface AuditNote {
  /** Overrides the route's audit name (`deploy.run` for POST /deploys). */
  action?: string;
  target?: string;
  detail?: Record<string, unknown>;
  /** Overrides the outcome the status gives (a 2xx is `ok`). */
  outcome?: AuditOutcome;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Put there from ROUTES when the route is registered. */
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** The name of the token that made the request (a person's), for jobs' "asked by" and silences' "made by". */
    caller: string | null;
    /** The token that made the request, once the access control accepted it; null for public routes. */
    principal: Principal | null;
    /** Set by a handler to say what it did, for the audit log. */
    auditNote: AuditNote | null;
  }
}

/** The line of ROUTES for a method and path; HEAD is GET's. */
export function routeAccess(method: string, url: string): RouteAccess | undefined {
  return ROUTES[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}

/** The roles that have a permission, for refusals that say who could. */
export function rolesWith(permission: Permission): TokenRole[] {
  return (Object.keys(ROLE_PERMISSIONS) as TokenRole[]).filter((r) => ROLE_PERMISSIONS[r].includes(permission));
}

/** Whether a glob (`web-*`, `api-?`, `*`) matches a whole name. */
export function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`);
  return re.test(name);
}

/** Whether a scope lets its holder touch a service of this name. */
export function scopeAllowsService(scope: TokenScope, service: string): boolean {
  return scope.services.some((g) => globMatch(g, service));
}

/** Whether a node with these labels is in the scope: every key of the scope, with one of its values. */
export function scopeAllowsNode(scope: TokenScope, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(scope.nodes).every(([k, values]) => labels[k] !== undefined && values.includes(labels[k]!));
}

/** A scope as people write it: `services web-*,api; nodes tier=web`. */
export function formatScope(scope: TokenScope): string {
  const nodes = scopeNodeList(scope);
  return `services ${scope.services.join(',')}; nodes ${nodes.length ? nodes.join(',') : 'any'}`;
}

/** The node part of a scope as `KEY=VALUE` strings, the way `--nodes` takes them. */
export function scopeNodeList(scope: TokenScope): string[] {
  return Object.entries(scope.nodes).flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`));
}

const SERVICE_GLOB = /^[A-Za-z0-9*?._-]{1,128}$/;
const NODE_LABEL = /^([A-Za-z0-9._/-]{1,63})=(.{1,256})$/;

/**
 * Reads a deployer's scope from a request: `services` (globs, at least one)
 * and `nodes` (`KEY=VALUE`; a key given twice takes either value; none: every
 * node). Every problem is reported at once.
 */
export function parseScope(services: unknown, nodes: unknown): TokenScope {
  const problems: string[] = [];
  const list = (v: unknown, what: string): string[] => {
    if (v === undefined || v === null) return [];
    const items = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : undefined;
    if (!items || items.length > 64 || !items.every((x): x is string => typeof x === 'string')) {
      problems.push(`${what} must be a list of at most 64 strings`);
      return [];
    }
    return items.map((x) => x.trim()).filter(Boolean);
  };
  const globs = list(services, 'services');
  if (globs.length === 0) problems.push('a deployer needs services: the service names it may deploy, as globs like web-* (* for every service)');
  for (const g of globs) if (!SERVICE_GLOB.test(g)) problems.push(`service pattern ${JSON.stringify(g)} may hold letters, digits, . _ - and the wildcards * and ?`);
  const byKey: Record<string, string[]> = {};
  for (const kv of list(nodes, 'nodes')) {
    const m = NODE_LABEL.exec(kv);
    if (!m) { problems.push(`node selector ${JSON.stringify(kv)} must look like KEY=VALUE`); continue; }
    const values = (byKey[m[1]!] ??= []);
    if (!values.includes(m[2]!)) values.push(m[2]!);
  }
  if (problems.length) throw badRequest(`invalid scope: ${problems.join('; ')}`, undefined, { problems });
  return { services: globs, nodes: byKey };
}

/** What a deploy touches: a service by name, on a node with these labels (absent: not chosen yet). */
export interface DeployTarget {
  service: string;
  node?: { name: string; labels: Readonly<Record<string, string>> };
}

/**
 * Throws MUSTER_ERR_FORBIDDEN unless the principal may deploy to the target:
 * an admin anywhere, a deployer for services and nodes of its scope.
 */
export function checkDeployScope(principal: Principal | null, target: DeployTarget): void {
  if (!principal) throw unauthorized('this route needs a token');
  if (principal.role === 'admin') return;
  const scope = principal.scope;
  if (principal.role !== 'deployer' || !scope) throw forbidden(`${principal.name} (${principal.role}) may not deploy`, undefined, { permission: 'deploy', role: principal.role });
  const details = {
    permission: 'deploy', role: principal.role, service: target.service, ...(target.node ? { node: target.node.name } : {}),
    scope: { services: scope.services, nodes: scopeNodeList(scope) },
  };
  if (!scopeAllowsService(scope, target.service)) {
    throw forbidden(`${principal.name} may deploy services matching ${scope.services.join(', ')}, not '${target.service}'`, undefined, details);
  }
  if (target.node && !scopeAllowsNode(scope, target.node.labels)) {
    throw forbidden(`${principal.name} may deploy only to nodes labelled ${scopeNodeList(scope).join(' or ')}; '${target.node.name}' is not`, undefined, details);
  }
}

/** Whether a principal may place or deploy on a node with these labels at all (a deployer's `--node auto` picks among these). */
export function nodeInScope(principal: Principal | null, labels: Readonly<Record<string, string>>): boolean {
  if (principal?.role === 'admin') return true;
  return principal?.role === 'deployer' && principal.scope !== null && scopeAllowsNode(principal.scope, labels);
}

/** The principal of a token record. */
export function principalOf(record: TokenRecord): Principal {
  return { tokenId: record.id, name: record.label || `token ${record.id}`, role: record.role, scope: record.scope, expiresAt: record.expiresAt };
}

export interface AccessControlDeps {
  tokens: Pick<TokenService, 'verify'>;
  audit: Pick<AuditLog, 'record'>;
  now: () => number;
  /** /metrics and service discovery without a token (`--metrics-public`). */
  metricsPublic?: boolean;
}

/** The access control of one fastify app. */
export interface AccessControl {
  /** Adds the hooks; call before any route is registered, so every route gets its line (or stops the app). */
  install(app: FastifyInstance): void;
}

const HOW_TO_SCRAPE = 'use a metrics token (muster token create --role metrics), or start the hub with --metrics-public';

/** Creates the access control: route lines from ROUTES, bearer tokens checked against them, writes and refusals audited. */
export function createAccessControl(deps: AccessControlDeps): AccessControl {
  const check = async (req: FastifyRequest) => {
    const rule = req.routeOptions.config?.access;
    // A path no route serves goes on to the 404 handler: there is nothing there to guard.
    if (!rule) return;
    if (rule.permission === 'public' || rule.permission === 'link') return;
    if (rule.permission === 'scrape' && deps.metricsPublic) return;
    const header = req.headers.authorization;
    if (!header) {
      throw unauthorized(rule.permission === 'scrape' ? `missing bearer token: ${HOW_TO_SCRAPE}` : 'missing bearer token: send "Authorization: Bearer <token>" (muster token create makes one)');
    }
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const record = m ? deps.tokens.verify(m[1]!) : undefined;
    if (!record) throw unauthorized('bearer token unknown, expired or revoked');
    const principal = principalOf(record);
    req.principal = principal;
    req.caller = principal.name;
    if (ROLE_PERMISSIONS[record.role].includes(rule.permission)) return;
    const who = rolesWith(rule.permission).join(' and ');
    const hint = rule.permission === 'scrape' ? `; ${HOW_TO_SCRAPE}` : '';
    throw forbidden(`${principal.name} (role ${record.role}) may not ${req.method} ${req.routeOptions.url}: it needs the '${rule.permission}' permission, which ${who} tokens have${hint}`,
      undefined, { permission: rule.permission, role: record.role });
  };

  return {
    install(app) {
      app.decorateRequest('caller', null);
      app.decorateRequest('principal', null);
      app.decorateRequest('auditNote', null);
      app.addHook('onRoute', (route) => {
        const methods = Array.isArray(route.method) ? route.method : [route.method];
        const rules = methods.map((m) => routeAccess(m, route.url));
        if (rules.some((r) => r === undefined) || new Set(rules.map((r) => JSON.stringify(r))).size !== 1) {
          throw routeWithoutAccess(`route ${methods.join(',')} ${route.url} has no line in ROUTES (hub/access.ts): say who may call it there`);
        }
        route.config = { ...(route.config ?? {}), access: rules[0]! };
      });
      app.addHook('onRequest', check);
      // Before the answer leaves: once a caller has it, the entry is in the log.
      app.addHook('onSend', async (req, reply, payload) => {
        const rule = req.routeOptions.config?.access;
        const principal = req.principal;
        const refused = reply.statusCode === 403;
        // No principal: a public route, or no valid token (401) — nobody to name, and nothing done.
        if (!rule || !principal || (!rule.audit && !refused)) return payload;
        const note = req.auditNote;
        let code: string | null = null;
        let error: Record<string, unknown> | undefined;
        if (reply.statusCode >= 400 && typeof payload === 'string') {
          try {
            const e = (JSON.parse(payload) as { error?: Record<string, unknown> }).error;
            if (e) { code = typeof e.code === 'string' ? e.code : null; error = e; }
          } catch { /* not JSON: the status says enough */ }
        }
        const ok = reply.statusCode < 400;
        deps.audit.record({
          ts: deps.now(), who: principal.name, tokenId: principal.tokenId, role: principal.role,
          action: note?.action ?? rule.audit ?? `${req.method} ${req.routeOptions.url}`,
          target: note?.target ?? null, method: req.method, path: req.url.split('?')[0]!, address: req.ip,
          outcome: note?.outcome && ok ? note.outcome : ok ? 'ok' : refused ? 'refused' : 'failed',
          status: reply.statusCode, code,
          detail: { ...(note?.detail ?? {}), ...(error ? { error } : {}) },
        });
        return payload;
      });
    },
  };
}
