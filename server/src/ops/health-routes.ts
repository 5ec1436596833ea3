import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { ERROR_RESPONSES } from '../http/route-responses.js';
import { RELAY_SERVICES_PLUGIN } from '../http/services-plugin.js';
import { parseQueryInteger, QueryInteger } from '../protocol/upload-protocol.js';
import type { RelayServices } from '../relay-services.js';

const ReadyQuery = Type.Object({ bytes: Type.Optional(QueryInteger) }, { additionalProperties: false });
const Check = Type.Union([Type.Literal('ok'), Type.Literal('low'), Type.Literal('unavailable')]);
const ReadyResponse = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not ready')]),
  checks: Type.Object({ database: Check, disk: Check }),
});

/**
 * /healthz: the process answers (liveness). /readyz: it can take uploads: the database answers and
 * the disk has room, for the chunks of admitted uploads or (?bytes=N) for a new upload of N bytes.
 */
const registerHealthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { services } = app;
  app.get('/healthz', { schema: { response: { 200: Type.Object({ status: Type.Literal('ok') }), ...ERROR_RESPONSES } } }, async () => ({ status: 'ok' as const }));
  // ?bytes=N: whether a new upload of N bytes would be admitted now (an agent refused at init asks
  // for its study); without it, whether chunks of uploads already admitted have room (an agent
  // refused a chunk, a load balancer): their promise is theirs already, so only the database's
  // reserve counts.
  app.get('/readyz', { schema: { querystring: ReadyQuery, response: { 200: ReadyResponse, 503: ReadyResponse, ...ERROR_RESPONSES } } }, async (request, reply) => {
    const asked = request.query.bytes;
    const newUpload = asked === undefined ? undefined : parseQueryInteger(asked) ?? Number.MAX_SAFE_INTEGER;
    let database: 'ok' | 'unavailable';
    try {
      await services.store.ping();
      database = 'ok';
    } catch {
      database = 'unavailable';
    }
    const room = newUpload === undefined ? services.uploads.hasRoomForChunks() : services.uploads.hasRoomForUploads(newUpload);
    const disk = await room.then((room) => (room ? 'ok' as const : 'low' as const), () => 'unavailable' as const);
    const ready = database === 'ok' && disk === 'ok';
    // Not ready: when to look again, soon while deliveries are freeing space (as a 507 says).
    if (!ready) void reply.header('retry-after', String(await retryAfterSeconds(services)));
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: { database, disk } });
  });
};

/** UploadService.storageRetryAfterSeconds, or a minute when the database cannot say. */
async function retryAfterSeconds(services: RelayServices): Promise<number> {
  try {
    return await services.uploads.storageRetryAfterSeconds();
  } catch {
    return 60;
  }
}

export const healthRoutes = fp(registerHealthRoutes, { name: 'health-routes', dependencies: [RELAY_SERVICES_PLUGIN] });
