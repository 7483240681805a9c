/**
 * API routes that change who a node is: POST /nodes/:name/replace lets the
 * next join under the name take the node over (within a window, default
 * 1 h), DELETE /nodes/:name removes the node, its credentials and everything
 * stored of it. Registered inside the authenticated /api/v1 scope by
 * buildServer.
 */
import type { FastifyInstance } from 'fastify';
import type { Membership } from '../membership.ts';
import { badRequest } from '../errors.ts';
import { parseDuration } from '../durations.ts';

export interface NodeAdminRoutesDeps {
  membership: Pick<Membership, 'allowReplacement' | 'remove'>;
}

/** Longest window a replacement may be left open: a day is plenty to reinstall a node. */
const MAX_WINDOW_MS = 86_400_000;

/** Registers the routes on the API scope. */
export function registerNodeAdminRoutes(api: FastifyInstance, deps: NodeAdminRoutesDeps): void {
  api.post<{ Params: { name: string }; Body: { window?: unknown } | null }>('/nodes/:name/replace', async (req) => {
    const body = req.body ?? {};
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('body must be a JSON object');
    let windowMs: number | undefined;
    if (body.window !== undefined && body.window !== null) {
      windowMs = typeof body.window === 'string' ? parseDuration(body.window) : undefined;
      if (!windowMs || windowMs > MAX_WINDOW_MS) throw badRequest(`window must be a duration like 30m or 1h, at most 1d, not ${JSON.stringify(body.window)}`);
    }
    const { node, until } = deps.membership.allowReplacement(req.params.name, windowMs);
    req.log.warn({ node: node.name, until: new Date(until).toISOString(), by: req.caller }, 'node replacement allowed');
    return { node: node.name, replaceUntil: new Date(until).toISOString() };
  });

  api.delete<{ Params: { name: string } }>('/nodes/:name', async (req) => {
    const node = await deps.membership.remove(req.params.name);
    req.log.warn({ node: node.name, by: req.caller }, 'node removed');
    return { node: node.name, removed: true };
  });
}
