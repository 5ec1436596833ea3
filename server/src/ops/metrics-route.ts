import type { FastifyInstance } from 'fastify';
import type { RelayMetrics } from './relay-metrics.js';

/** GET /metrics in the Prometheus text format. Holds counts and timings only: no ids, no PHI. */
export function registerMetricsRoute(app: FastifyInstance, metrics: RelayMetrics, beforeScrape: () => void = () => undefined): void {
  app.get('/metrics', async (_request, reply) => {
    beforeScrape();
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
