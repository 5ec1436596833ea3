import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { RelayError } from '../http/relay-error.js';
import { ERROR_RESPONSES } from '../http/route-responses.js';
import { RELAY_SERVICES_PLUGIN } from '../http/services-plugin.js';

export interface MetricsRouteOptions {
  /** When set, a scrape must bear this token (Prometheus `authorization: { credentials_file: ... }`). */
  bearerToken?: string;
}

/** The Prometheus text exposition format (its content type is set by the registry), not JSON. */
const MetricsText = Type.String({ description: 'Prometheus text format' });

/**
 * GET /metrics in the Prometheus text format. Holds counts and timings only: no ids, no PHI. It
 * does name destinations and the Node version, so it is served on its own loopback listener by
 * default (ops/metrics-listener.ts) or, on the relay's port, only to a bearer of the scrape token.
 * The queue-depth gauge is read from the database before each scrape.
 */
const registerMetricsRoute: FastifyPluginAsyncTypebox<MetricsRouteOptions> = async (app, options) => {
  const { metrics, deliveries } = app.services;
  const expected = options.bearerToken === undefined ? undefined : digest(options.bearerToken);
  app.get('/metrics', {
    schema: { response: { 200: MetricsText, ...ERROR_RESPONSES } },
    onRequest: async (request) => {
      if (expected === undefined) return;
      const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
      // Compared as digests in constant time: the comparison reveals nothing about the token.
      if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
        throw new RelayError(401, 'AUTH_REQUIRED', undefined, {}, { 'www-authenticate': 'Bearer realm="metrics"' });
      }
    },
  }, async (_request, reply) => {
    await deliveries.updateQueueDepthMetric();
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export const metricsRoute = fp(registerMetricsRoute, { name: 'metrics-route', dependencies: [RELAY_SERVICES_PLUGIN] });
