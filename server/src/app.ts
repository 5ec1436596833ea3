import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import type { RelayServices } from './relay-services.js';
import { installErrorHandler } from './http/error-handler.js';
import { installSecurityHeaders } from './http/security-headers.js';
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
}

/**
 * Builds the relay's Fastify app from its services: security headers and errors first, then
 * operations endpoints, auth, and the upload protocol. server.ts only listens and closes; tests
 * build the app the same way and talk to it over real HTTP.
 */
export async function buildApp(services: RelayServices, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    // Clients behind proxies still count as themselves for rate limits only when configured.
    trustProxy: false,
    // Chunk bodies are streamed by the upload handlers; JSON bodies stay small.
    bodyLimit: 1024 * 1024,
    requestIdHeader: false,
    ...(options.https ? { https: options.https } : {}),
  } as FastifyServerOptions);
  // Nothing is answered before what it committed is on disk (the database syncs its log here, off
  // the event loop, rather than at every commit: WalDurability).
  app.addHook('onSend', async () => {
    await services.durability.flush();
  });
  installErrorHandler(app);
  installSecurityHeaders(app, { https: options.https !== undefined });
  if (services.config.corsOrigins.length > 0) {
    await app.register(cors, { origin: services.config.corsOrigins, credentials: false });
  }
  registerHealthRoutes(app, services);
  registerMetricsRoute(app, services.metrics, () => services.deliveries.updateQueueDepthMetric());
  registerEventsRoute(app, services);
  registerAuditExportRoute(app, services);
  registerAuthRoutes(app, services);
  registerUserAdminRoutes(app, services);
  registerUploadRoutes(app, services);
  return app;
}
