/** GET /metrics: the Prometheus exposition of the hub and every node (no token: scrape it like node_exporter). */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { HubMetrics } from '../metrics/metrics.ts';

export function registerMetricsRoute(app: FastifyInstance, metrics: Pick<HubMetrics, 'render'>): void {
  app.get('/metrics', async (_req, reply) => {
    const { contentType, chunks, bytes } = await metrics.render();
    return reply.type(contentType).header('content-length', bytes).send(Readable.from(chunks, { objectMode: false }));
  });
}
