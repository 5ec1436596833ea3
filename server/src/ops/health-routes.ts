import type { FastifyInstance } from 'fastify';
import type { RelayServices } from '../relay-services.js';

/**
 * /healthz: the process answers (liveness). /readyz: it can take uploads: the database answers
 * and the data directory has the configured free space.
 */
export function registerHealthRoutes(app: FastifyInstance, services: RelayServices): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const checks: Record<string, string> = {};
    try {
      services.db.prepare('SELECT 1').get();
      checks.database = 'ok';
    } catch {
      checks.database = 'unavailable';
    }
    const free = await services.storage.freeBytes().catch(() => -1);
    checks.disk = free >= services.config.upload.minFreeDiskBytes ? 'ok' : 'low';
    const ready = Object.values(checks).every((value) => value === 'ok');
    // Not ready: when to look again, soon while deliveries are freeing space (as a 507 says).
    if (!ready) void reply.header('retry-after', String(retryAfterSeconds(services)));
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });
}

/** UploadService.storageRetryAfterSeconds, or a minute when the database cannot say. */
function retryAfterSeconds(services: RelayServices): number {
  try {
    return services.uploads.storageRetryAfterSeconds();
  } catch {
    return 60;
  }
}
