import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { parseQueryInteger, QueryInteger } from '../protocol/upload-protocol.js';
import type { RelayServices } from '../relay-services.js';

const ReadyQuery = Type.Object({ bytes: Type.Optional(QueryInteger) }, { additionalProperties: false });

/**
 * /healthz: the process answers (liveness). /readyz: it can take uploads: the database answers and
 * the disk has room, for the chunks of admitted uploads or (?bytes=N) for a new upload of N bytes.
 */
export function registerHealthRoutes(app: FastifyInstance, services: RelayServices): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  // ?bytes=N: whether a new upload of N bytes would be admitted now (an agent refused at init asks
  // for its study); without it, whether chunks of uploads already admitted have room (an agent
  // refused a chunk, a load balancer): their promise is theirs already, so only the database's
  // reserve counts.
  app.get('/readyz', { schema: { querystring: ReadyQuery } }, async (request, reply) => {
    const asked = (request.query as { bytes?: string }).bytes;
    const newUpload = asked === undefined ? undefined : parseQueryInteger(asked) ?? Number.MAX_SAFE_INTEGER;
    const checks: Record<string, string> = {};
    try {
      services.db.prepare('SELECT 1').get();
      checks.database = 'ok';
    } catch {
      checks.database = 'unavailable';
    }
    const room = newUpload === undefined ? services.uploads.hasRoomForChunks() : services.uploads.hasRoomForUploads(newUpload);
    checks.disk = await room.then((room) => (room ? 'ok' : 'low'), () => 'unavailable');
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
