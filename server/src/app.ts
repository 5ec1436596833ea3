import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import type { RelayServices } from './relay-services.js';
import { capConnections, installRequestDeadline, serverLimitOptions } from './http/connection-limits.js';
import { installErrorHandler } from './http/error-handler.js';
import { installRefusedBodyLimit } from './http/refused-body.js';
import { installSecurityHeaders } from './http/security-headers.js';
import { relayTlsOptions } from './http/tls-options.js';
import { registerHealthRoutes } from './ops/health-routes.js';
import { registerMetricsRoute } from './ops/metrics-route.js';
import { registerEventsRoute } from './ops/events-route.js';
import { registerAuditExportRoute } from './ops/audit-export-route.js';
import { registerAuthRoutes } from './auth/auth-routes.js';
import { registerUserAdminRoutes } from './auth/user-admin-routes.js';
import { registerUploadRoutes } from './upload/upload-routes.js';

export interface BuildAppOptions {
  logger?: FastifyServerOptions['logger'];
  https?: { key: Buffer; cert: Buffer };
  /** /metrics on the relay's own port, to bearers of this token (metrics.bearerTokenFile). Off when undefined. */
  metricsBearerToken?: string;
}

/**
 * Builds the relay's Fastify app from its services: connection limits, security headers and errors
 * first, then operations endpoints, auth, and the upload protocol. server.ts only listens and
 * closes; tests build the app the same way and talk to it over real HTTP.
 */
export async function buildApp(services: RelayServices, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const limits = services.config.http;
  const serverLimits = serverLimitOptions(limits);
  const app = Fastify({
    logger: options.logger ?? false,
    // Clients behind proxies still count as themselves for rate limits only when configured.
    trustProxy: false,
    // Chunk bodies are streamed by the upload handlers; JSON bodies stay small.
    bodyLimit: 1024 * 1024,
    requestIdHeader: false,
    ...serverLimits.fastify,
    ...(options.https
      ? { https: { ...relayTlsOptions(options.https), ...serverLimits.node } }
      : { http: serverLimits.node }),
  } as FastifyServerOptions);
  capConnections(app.server, limits, (address) => app.log.warn({ address }, 'connection refused: too many open connections from this address'));
  installRequestDeadline(app, limits);
  installRefusedBodyLimit(app, limits.refusedBodyBytes);
  // Nothing is answered before what it committed is on disk (the database syncs its log here, off
  // the event loop, rather than at every commit: WalDurability).
  app.addHook('onSend', async () => {
    await services.durability.flush();
  });
  installErrorHandler(app, { storageRetryAfterSeconds: () => services.uploads.storageRetryAfterSeconds() });
  installSecurityHeaders(app, { https: options.https !== undefined });
  if (services.config.corsOrigins.length > 0) {
    await app.register(cors, { origin: services.config.corsOrigins, credentials: false });
  }
  registerHealthRoutes(app, services);
  if (options.metricsBearerToken !== undefined) {
    registerMetricsRoute(app, services.metrics, { beforeScrape: () => services.deliveries.updateQueueDepthMetric(), bearerToken: options.metricsBearerToken });
  }
  registerEventsRoute(app, services, { https: options.https !== undefined });
  registerAuditExportRoute(app, services);
  registerAuthRoutes(app, services);
  registerUserAdminRoutes(app, services);
  registerUploadRoutes(app, services);
  return app;
}
