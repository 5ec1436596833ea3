import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ADMIN_ROLES, UPLOADER_ROLES } from '../auth/roles.js';
import { RelayError } from '../http/relay-error.js';
import { ERROR_RESPONSES, NoBody } from '../http/route-responses.js';
import { RELAY_SERVICES_PLUGIN } from '../http/services-plugin.js';
import {
  ChunkQueryWire, ChunkResponse, InitUploadRequest, InitUploadResponse, parseQueryInteger, RetryResponse, StatusQueryWire, UploadIdParams, UploadStatus,
} from '../protocol/upload-protocol.js';
import type { AuditAction } from '../store/audit-store.js';

/**
 * The upload protocol (docs/protocol/upload.md), one route per operation. init needs a user with an
 * uploader role; every other operation needs the upload token issued for that very upload.
 */
const registerUploadRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { uploads, deliveries, guards, audit, config, store } = app.services;
  const uploadToken = guards.requireUploadToken();
  const auditUpload = async (request: Pick<FastifyRequest, 'ip' | 'principal' | 'uploadPrincipal'>, action: AuditAction, uploadId: string, detail = '') => {
    const upload = await store.uploads.find(uploadId);
    return audit.record({
      action, outcome: 'success', address: request.ip,
      actorUserId: request.principal?.userId ?? request.uploadPrincipal?.userId ?? null,
      target: `upload ${uploadId} study ${upload?.studyInstanceUid ?? '?'}${detail}`,
    });
  };

  app.post('/upload/init', {
    schema: { body: InitUploadRequest, response: { 200: InitUploadResponse, 201: InitUploadResponse, ...ERROR_RESPONSES } },
    onRequest: guards.requireUser(UPLOADER_ROLES),
  }, async (request, reply) => {
    const answer = await uploads.init(request.principal!, request.body);
    if (!answer.resumed) {
      const { study, instances } = request.body;
      await auditUpload(request, 'upload-start', answer.uploadId, ` ${study.serviceLevel}, ${instances.length} instances, from ${study.sourceWorkstation ?? 'unnamed workstation'}`);
    }
    return reply.status(answer.resumed ? 200 : 201).send(answer);
  });

  app.get('/upload/:id/status', {
    schema: { params: UploadIdParams, response: { 200: UploadStatus, ...ERROR_RESPONSES } },
    onRequest: uploadToken,
    exposeHeadRoute: false,
  }, async (request) => uploads.status(request.params.id));

  // HEAD .../status?instance=N answers one instance's offsets in headers, tus style.
  app.head('/upload/:id/status', {
    schema: { params: UploadIdParams, querystring: StatusQueryWire, response: { 200: NoBody, ...ERROR_RESPONSES } },
    onRequest: uploadToken,
  }, async (request, reply) => {
    const uploadId = request.params.id;
    const status = await uploads.status(uploadId);
    void reply.header('upload-received', String(status.receivedBytes)).header('upload-length', String(status.totalBytes));
    if (request.query.instance !== undefined) {
      const offsets = await uploads.instanceOffsets(uploadId, queryInteger(request.query.instance, 'instance'));
      void reply.header('upload-offset', String(offsets.contiguousBytes)).header('upload-length', String(offsets.size));
    }
    return reply.status(200).send();
  });

  // Chunk bodies are not parsed: the handler streams request.raw to storage. Fastify's bodyLimit
  // does not apply to such a stream, so the service enforces Content-Length and counts the bytes.
  await app.register(async (plain) => {
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/octet-stream', (_request, _payload, done) => done(null));
    scope.addContentTypeParser('*', (_request, _payload, done) => done(new RelayError(415, 'UNSUPPORTED_MEDIA_TYPE')));
    for (const method of ['PUT', 'POST'] as const) {
      scope.route({
        method,
        url: '/upload/:id/chunk',
        schema: { params: UploadIdParams, querystring: ChunkQueryWire, response: { 200: ChunkResponse, ...ERROR_RESPONSES } },
        onRequest: uploadToken,
        // The body is a chunk read at the client's pace: exempt from http.requestTimeoutSeconds.
        config: { streamingBody: true },
        handler: async (request) => {
          const idleMs = config.upload.chunkIdleTimeoutSeconds * 1000;
          // A connection that stops sending is dropped rather than held for minutes.
          request.raw.setTimeout(idleMs, () => request.raw.destroy(new Error('chunk upload idle timeout')));
          const lengthHeader = request.headers['content-length'];
          const query = { instance: queryInteger(request.query.instance, 'instance'), offset: queryInteger(request.query.offset, 'offset') };
          return uploads.receiveChunk(request.params.id, query, {
            contentLength: lengthHeader === undefined ? undefined : Number(lengthHeader),
            contentDigest: request.headers['content-digest'],
          }, request.raw);
        },
      });
    }
  });

  app.post('/upload/:id/complete', {
    schema: { params: UploadIdParams, response: { 200: UploadStatus, ...ERROR_RESPONSES } },
    onRequest: uploadToken,
  }, async (request) => {
    const wasAccepted = (await store.uploads.find(request.params.id))?.state === 'accepted';
    const status = await uploads.complete(request.params.id);
    if (!wasAccepted) {
      const rejected = status.instances.filter((i) => i.state === 'rejected').length;
      await auditUpload(request, 'upload-complete', status.uploadId, `: ${status.instances.length - rejected} accepted, ${rejected} rejected`);
    }
    return status;
  });

  // Queues again the instances whose delivery failed for good (after the PACS was fixed, say).
  for (const [url, onRequest] of [['/upload/:id/retry', uploadToken], ['/admin/uploads/:id/retry', guards.requireUser(ADMIN_ROLES)]] as const) {
    app.post(url, {
      schema: { params: UploadIdParams, response: { 200: RetryResponse, ...ERROR_RESPONSES } },
      onRequest,
    }, async (request) => {
      const uploadId = request.params.id;
      if (!(await store.uploads.find(uploadId))) throw new RelayError(404, 'UPLOAD_NOT_FOUND');
      const requeued = await deliveries.retryFailed(uploadId);
      await auditUpload(request, 'upload-retry', uploadId, `: ${requeued} instance deliveries requeued`);
      return { requeued };
    });
  }

  app.delete('/upload/:id', {
    schema: { params: UploadIdParams, response: { 204: NoBody, ...ERROR_RESPONSES } },
    onRequest: uploadToken,
  }, async (request, reply) => {
    await uploads.cancel(request.params.id);
    await auditUpload(request, 'upload-cancel', request.params.id);
    return reply.status(204).send();
  });
};

function queryInteger(text: string, name: string): number {
  const value = parseQueryInteger(text);
  if (value === undefined) throw new RelayError(400, 'BAD_REQUEST', `${name} is larger than the relay can address`);
  return value;
}

export const uploadRoutes = fp(registerUploadRoutes, { name: 'upload-routes', dependencies: [RELAY_SERVICES_PLUGIN] });
