/**
 * GET /metrics: the Prometheus exposition of the hub and every node. GET
 * /metrics/hub: the hub's own series only, for watching the hub itself at
 * little cost. GET /metrics/nodes/NAME: one node's series only, for
 * Prometheus scraping every node as its own target (found through GET
 * /api/v1/sd/nodes); GET /metrics/fleet: everything of /metrics but the
 * nodes' series, to go with them. Who may scrape is decided where they are
 * registered.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HubMetrics } from '../metrics/metrics.ts';
import { NODE_NAME_MAX, NODE_NAME_PATTERN } from '../../protocol/index.ts';
import { badRequest, nodeNotFound, nodeOffline } from '../errors.ts';

const NODE_NAME = new RegExp(NODE_NAME_PATTERN);

/** Whether a string from a URL is a name a node can have (protocol/messages.ts). */
export function isNodeName(name: string): boolean {
  return name.length <= NODE_NAME_MAX && NODE_NAME.test(name);
}

const stream = (reply: FastifyReply, r: { contentType: string; chunks: Buffer[]; bytes: number }) =>
  reply.type(r.contentType).header('content-length', r.bytes).send(Readable.from(r.chunks, { objectMode: false }));

export function registerMetricsRoute(app: FastifyInstance, metrics: Pick<HubMetrics, 'render' | 'renderFleet' | 'renderHub' | 'renderNode'>): void {
  app.get('/metrics/hub', async (_req, reply) => {
    const { contentType, text } = await metrics.renderHub();
    return reply.type(contentType).send(text);
  });
  app.get('/metrics', async (_req, reply) => stream(reply, await metrics.render()));
  app.get('/metrics/fleet', async (_req, reply) => stream(reply, await metrics.renderFleet()));
  app.get<{ Params: { name: string } }>('/metrics/nodes/:name', async (req, reply) => {
    const { name } = req.params;
    if (!isNodeName(name)) throw badRequest(`not a node name: ${JSON.stringify(name.slice(0, 80))} (1 to ${NODE_NAME_MAX} letters, digits, '_', '.', '-', starting with a letter or digit)`);
    const r = await metrics.renderNode(name);
    if (r.kind === 'unknown') throw nodeNotFound(`no node named '${name}'`);
    // 503, not the last values: Prometheus marks the target down (up 0) and ends its series, as for a dead node_exporter.
    if (r.kind === 'offline') throw nodeOffline(`node '${name}' is offline (its agent last spoke ${new Date(r.lastSeen).toISOString()})`, undefined, { node: name, lastSeen: new Date(r.lastSeen).toISOString() });
    return stream(reply, r);
  });
}
