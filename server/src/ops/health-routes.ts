import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { parseQueryInteger, QueryInteger } from '../protocol/upload-protocol.js';
import type { RelayServices } from '../relay-services.js';

const ReadyQuery = Type.Object({ bytes: Type.Optional(QueryInteger) }, { additionalProperties: false });

/**
 * /healthz: the process answers (liveness). /readyz: it can take uploads: the database answers
 * and a new upload would be admitted for space (the same rule as init: free space, less what the
 * uploads already admitted still have to receive, above the floor, has room for `bytes`).
 */
export function registerHealthRoutes(app: FastifyInstance, services: RelayServices): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  // ?bytes=N: whether an upload of N bytes would be admitted now (an agent waiting after a 507
  // asks for its study); without it, whether there is room for one chunk of the preferred size.
  app.get('/readyz', { schema: { querystring: ReadyQuery } }, async (request, reply) => {
    const asked = (request.query as { bytes?: string }).bytes;
    const bytes = asked === undefined ? services.config.upload.preferredChunkBytes : parseQueryInteger(asked) ?? Number.MAX_SAFE_INTEGER;
    const checks: Record<string, string> = {};
    try {
      services.db.prepare('SELECT 1').get();
      checks.database = 'ok';
    } catch {
      checks.database = 'unavailable';
    }
    checks.disk = await services.uploads.hasRoomForUploads(bytes).then((room) => (room ? 'ok' : 'low'), () => 'unavailable');
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
