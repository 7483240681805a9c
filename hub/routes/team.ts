/**
 * A team on one hub: GET /whoami (the name, role and scope of the token in
 * use) and GET /audit (who did what: every write through the API and every
 * refusal, newest first). Who may call them is in hub/access.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { AuditEntry, AuditLog } from '../audit.ts';
import { ROLE_PERMISSIONS, scopeNodeList } from '../access.ts';
import { badRequest, unauthorized } from '../errors.ts';
import { parseSince } from './workloads.ts';

export interface TeamRoutesDeps {
  audit: Pick<AuditLog, 'list'>;
  now: () => number;
}

/** An audit entry as the API shows it. */
export function auditView(e: AuditEntry) {
  return {
    id: e.id, ts: new Date(e.ts).toISOString(), who: e.who, tokenId: e.tokenId, role: e.role, action: e.action, target: e.target,
    method: e.method, path: e.path, address: e.address, outcome: e.outcome, status: e.status, code: e.code, detail: e.detail,
  };
}

/** Registers the routes on the /api/v1 scope. */
export function registerTeamRoutes(api: FastifyInstance, deps: TeamRoutesDeps): void {
  api.get('/whoami', async (req) => {
    const p = req.principal;
    if (!p) throw unauthorized('this route needs a token');
    return {
      name: p.name, role: p.role, tokenId: p.tokenId,
      scope: p.scope && { services: p.scope.services, nodes: scopeNodeList(p.scope) },
      permissions: ROLE_PERMISSIONS[p.role],
      expiresAt: p.expiresAt === null ? null : new Date(p.expiresAt).toISOString(),
    };
  });

  api.get<{ Querystring: { since?: string; until?: string; who?: string; limit?: string } }>('/audit', async (req) => {
    const now = deps.now();
    const since = parseSince(req.query.since, now);
    const until = parseSince(req.query.until, now);
    const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw badRequest('limit must be an integer from 1 to 10000');
    const who = req.query.who;
    if (who !== undefined && (who.length === 0 || who.length > 200)) throw badRequest('who must be a token name of 1 to 200 characters');
    const entries = deps.audit.list({ limit, ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}), ...(who !== undefined ? { who } : {}) });
    return { entries: entries.map(auditView) };
  });
}
