import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { installErrorHandler } from '../http/error-handler.js';
import { installSecurityHeaders } from '../http/security-headers.js';
import { relayServicesPlugin } from '../http/services-plugin.js';
import type { RelayServices } from '../relay-services.js';
import { metricsRoute } from './metrics-route.js';

export interface MetricsListener {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/**
 * GET /metrics on a listener of its own (metrics.host:metrics.port, loopback by default), the
 * convention for Prometheus exporters: the relay's public port never shows the metrics, and the
 * scrape needs no credentials because only the machine (or whoever IT lets reach that port) can
 * make it. It answers nothing else.
 */
export async function startMetricsListener(services: RelayServices, host: string, port: number, logger: FastifyServerOptions['logger'] = false): Promise<MetricsListener> {
  const app = Fastify({ logger, requestIdHeader: false, keepAliveTimeout: 30_000, connectionTimeout: 60_000, requestTimeout: 30_000 } as FastifyServerOptions);
  installErrorHandler(app);
  installSecurityHeaders(app, { https: false });
  await app.register(relayServicesPlugin, { services });
  await app.register(metricsRoute);
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return { app, url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`, close: () => app.close() };
}
