/**
 * GET /metrics: the Prometheus exposition of the hub and every node. GET
 * /metrics/hub: the hub's own series only, for watching the hub itself at
 * little cost. Who may scrape is decided where they are registered.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { HubMetrics } from '../metrics/metrics.ts';

export function registerMetricsRoute(app: FastifyInstance, metrics: Pick<HubMetrics, 'render' | 'renderHub'>): void {
  app.get('/metrics/hub', async (_req, reply) => {
    const { contentType, text } = await metrics.renderHub();
    return reply.type(contentType).send(text);
  });
  app.get('/metrics', async (_req, reply) => {
    const { contentType, chunks, bytes } = await metrics.render();
    return reply.type(contentType).header('content-length', bytes).send(Readable.from(chunks, { objectMode: false }));
  });
}
