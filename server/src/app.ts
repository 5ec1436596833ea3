import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import fp from 'fastify-plugin';
import type { RelayServices } from './relay-services.js';
import { capConnections, installRequestDeadline, serverLimitOptions } from './http/connection-limits.js';
import { installErrorHandler } from './http/error-handler.js';
import { installRefusedBodyLimit } from './http/refused-body.js';
import { installSecurityHeaders } from './http/security-headers.js';
import { relayServicesPlugin } from './http/services-plugin.js';
import { relayTlsOptions } from './http/tls-options.js';
import { healthRoutes } from './ops/health-routes.js';
import { metricsRoute } from './ops/metrics-route.js';
import { eventsRoute } from './ops/events-route.js';
import { auditExportRoute } from './ops/audit-export-route.js';
import { authRoutes } from './auth/auth-routes.js';
import { userAdminRoutes } from './auth/user-admin-routes.js';
import { uploadRoutes } from './upload/upload-routes.js';
import { reportRoutes } from './reports/report-routes.js';

export interface BuildAppOptions {
  logger?: FastifyServerOptions['logger'];
  https?: { key: Buffer; cert: Buffer };
  /** /metrics on the relay's own port, to bearers of this token (metrics.bearerTokenFile). Off when undefined. */
  metricsBearerToken?: string;
}

export interface RelayRoutesOptions {
  services: RelayServices;
  /** Served over TLS: the event stream's own security headers say so (HSTS). */
  https: boolean;
  metricsBearerToken?: string;
}

/**
 * Every route of the relay: the services decorated once, then one plugin per concern (operations,
 * auth, administration, the upload protocol), each declaring the services as its dependency.
 */
export const relayRoutes = fp<RelayRoutesOptions>(async (app, options) => {
  await app.register(relayServicesPlugin, { services: options.services });
  await app.register(healthRoutes);
  if (options.metricsBearerToken !== undefined) await app.register(metricsRoute, { bearerToken: options.metricsBearerToken });
  await app.register(eventsRoute, { https: options.https });
  await app.register(auditExportRoute);
  await app.register(authRoutes);
  await app.register(userAdminRoutes);
  await app.register(uploadRoutes);
  await app.register(reportRoutes);
}, { name: 'relay-routes', fastify: '5.x' });

/**
 * Builds the relay's Fastify app from its services: connection limits, security headers and errors
 * first, then the routes (relayRoutes). server.ts only listens and closes; tests build the app the
 * same way and talk to it over real HTTP.
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
  await app.register(relayRoutes, {
    services,
    https: options.https !== undefined,
    ...(options.metricsBearerToken === undefined ? {} : { metricsBearerToken: options.metricsBearerToken }),
  });
  return app;
}
