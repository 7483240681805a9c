/**
 * API routes for alerts and silences: GET /alerts, and POST/GET/DELETE
 * /silences. Registered inside the authenticated /api/v1 scope by buildServer.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AlertEngine } from '../alerts/engine.ts';
import { silences as covers, type Silence, type SilenceStore } from '../alerts/silences.ts';
import { RULE_NAMES } from '../alerts/config.ts';
import { badRequest, silenceNotFound } from '../errors.ts';
import { parseDuration } from '../durations.ts';

export interface AlertRoutesDeps {
  alerts: Pick<AlertEngine, 'list'>;
  silences: SilenceStore;
  now: () => number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A silence as the API shows it. */
export function silenceView(s: Silence, now: number) {
  return {
    id: s.id, node: s.node, rule: s.rule, subject: s.subject, comment: s.comment, createdBy: s.createdBy,
    createdAt: iso(s.createdAt), endsAt: iso(s.endsAt), active: s.endsAt > now,
  };
}

/** Registers the routes. */
export function registerAlertRoutes(api: FastifyInstance, deps: AlertRoutesDeps): void {
  api.get<{ Querystring: { state?: string } }>('/alerts', async (req) => {
    const want = req.query.state;
    if (want !== undefined && !['pending', 'firing', 'resolved'].includes(want)) throw badRequest('state must be pending, firing or resolved');
    const t = deps.now();
    const active = deps.silences.active(t);
    return {
      alerts: deps.alerts.list().filter((a) => !want || a.state === want).map((a) => ({
        rule: a.rule, node: a.node, subject: a.subject, state: a.state, severity: a.severity, summary: a.summary, value: a.value, threshold: a.threshold,
        startedAt: iso(a.startedAt), firingAt: iso(a.firingAt), resolvedAt: iso(a.resolvedAt), notifiedAt: iso(a.notifiedFiringAt),
        silencedBy: active.filter((s) => covers(s, a)).map((s) => s.id),
      })),
    };
  });

  api.get('/silences', async () => ({ silences: deps.silences.list(deps.now()).map((s) => silenceView(s, deps.now())) }));

  api.post<{ Body: unknown }>('/silences', async (req, reply) => {
    const b = req.body as Record<string, unknown> | undefined;
    if (!b || typeof b !== 'object' || Array.isArray(b)) throw badRequest('body must be a JSON object: { node?, rule?, subject?, for, comment }');
    const problems: string[] = [];
    for (const k of Object.keys(b)) if (!['node', 'rule', 'subject', 'for', 'comment'].includes(k)) problems.push(`unknown field '${k}'`);
    const str = (k: 'node' | 'rule' | 'subject') => {
      const v = b[k];
      if (v === undefined || v === null) return null;
      if (typeof v !== 'string' || !v || v.length > 256) { problems.push(`${k} must be a non-empty string`); return null; }
      return v;
    };
    const node = str('node');
    const rule = str('rule');
    const subject = str('subject');
    if (rule !== null && !(RULE_NAMES as readonly string[]).includes(rule)) problems.push(`rule must be one of ${RULE_NAMES.join(', ')}`);
    if (node === null && rule === null && subject === null) problems.push('give at least one of node, rule or subject: a silence of everything is not a silence');
    const ms = typeof b.for === 'string' ? parseDuration(b.for) : undefined;
    if (!ms || ms > 90 * 86_400_000) problems.push(`for must be a duration like 30m, 2h or 7d (at most 90d), not ${JSON.stringify(b.for)}`);
    if (typeof b.comment !== 'string' || !b.comment.trim() || b.comment.length > 1000) problems.push('comment is required: say why (at most 1000 characters)');
    if (problems.length) throw badRequest(`invalid silence: ${problems.join('; ')}`, undefined, { problems });
    const t = deps.now();
    const s: Silence = { id: randomBytes(4).toString('hex'), node, rule, subject, comment: (b.comment as string).trim(), createdBy: req.caller ?? 'unknown', createdAt: t, endsAt: t + ms! };
    deps.silences.add(s);
    reply.code(201);
    return silenceView(s, t);
  });

  api.delete<{ Params: { id: string } }>('/silences/:id', async (req) => {
    if (!deps.silences.expire(req.params.id, deps.now())) throw silenceNotFound(`no silence with id '${req.params.id}'; list them with muster silence list`);
    return { id: req.params.id, expired: true };
  });
}
