/**
 * The fleet's agents: which version each runs against the bundle this hub
 * would push (GET /agents), and pushing it (POST /agents/upgrade with
 * `{nodes: [...]}` or `{all: true}`).
 */
import type { FastifyInstance } from 'fastify';
import type { Store } from '../store.ts';
import type { AgentBundle } from '../agent-bundle.ts';
import type { AgentUpgrades } from '../agent-upgrades.ts';
import { badRequest, nodeNotFound } from '../errors.ts';

export interface AgentRoutesDeps {
  store: Pick<Store, 'listNodes' | 'getNodeByName'>;
  bundle: AgentBundle;
  upgrades: Pick<AgentUpgrades, 'request' | 'list'>;
}

/** Registers the routes on an /api/v1 scope. */
export function registerAgentRoutes(api: FastifyInstance, deps: AgentRoutesDeps): void {
  const iso = (ms: number) => new Date(ms).toISOString();
  api.get('/agents', async () => {
    const bundle = deps.bundle.info();
    const latest = new Map(deps.upgrades.list().map((u) => [u.node, u]));
    return {
      bundle: bundle ? { version: bundle.version, sha256: bundle.sha256 } : null,
      agents: deps.store.listNodes().map((n) => {
        const u = latest.get(n.name);
        return {
          node: n.name, online: n.online, version: n.agentVersion, runtime: n.facts?.runtime ?? null,
          current: bundle ? n.agentVersion === bundle.version : null,
          upgrade: u ? { state: u.state, from: u.from, to: u.to, message: u.message, at: iso(u.at) } : null,
        };
      }),
    };
  });

  api.post<{ Body: unknown }>('/agents/upgrade', async (req) => {
    const b = (req.body ?? {}) as { nodes?: unknown; all?: unknown; force?: unknown };
    if (typeof b !== 'object' || b === null) throw badRequest('body must be a JSON object: {"nodes": ["pi-1"]} or {"all": true}');
    const all = b.all === true;
    const nodes = Array.isArray(b.nodes) ? b.nodes : [];
    if (all === (nodes.length > 0)) throw badRequest('give either "nodes" (a list of node names) or "all": true');
    if (!nodes.every((n): n is string => typeof n === 'string' && n.length > 0 && n.length <= 63)) throw badRequest('"nodes" must be node names');
    for (const n of nodes) if (!deps.store.getNodeByName(n)) throw nodeNotFound(`no node named '${n}'`);
    if (!deps.bundle.info()) throw badRequest('this hub has no agent bundle to push (run npm run build where the hub runs)');
    const names = all ? deps.store.listNodes().map((n) => n.name) : nodes;
    const requested = deps.upgrades.request(names, { force: b.force === true });
    return { requested: requested.map((u) => ({ node: u.node, from: u.from, to: u.to, state: u.state, message: u.message })) };
  });
}
