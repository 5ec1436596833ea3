import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { RelayError } from '../http/relay-error.js';
import type { RelayMetrics } from './relay-metrics.js';

export interface MetricsRouteOptions {
  /** Refreshes gauges read from the database (queue depth) before each scrape. */
  beforeScrape?: () => void;
  /** When set, a scrape must bear this token (Prometheus `authorization: { credentials_file: ... }`). */
  bearerToken?: string;
}

/**
 * GET /metrics in the Prometheus text format. Holds counts and timings only: no ids, no PHI. It
 * does name destinations and the Node version, so it is served on its own loopback listener by
 * default (ops/metrics-listener.ts) or, on the relay's port, only to a bearer of the scrape token.
 */
export function registerMetricsRoute(app: FastifyInstance, metrics: RelayMetrics, options: MetricsRouteOptions = {}): void {
  const expected = options.bearerToken === undefined ? undefined : digest(options.bearerToken);
  app.get('/metrics', {
    onRequest: async (request) => {
      if (expected === undefined) return;
      const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
      // Compared as digests in constant time: the comparison reveals nothing about the token.
      if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
        throw new RelayError(401, 'AUTH_REQUIRED', undefined, {}, { 'www-authenticate': 'Bearer realm="metrics"' });
      }
    },
  }, async (_request, reply) => {
    options.beforeScrape?.();
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
