import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ADMIN_ROLES, UPLOADER_ROLES } from '../auth/roles.js';
import { RelayError } from '../http/relay-error.js';
import { ChunkQueryWire, InitUploadRequest, parseQueryInteger, StatusQueryWire, UploadIdParams, type ChunkQuery } from '../protocol/upload-protocol.js';
import type { RelayServices } from '../relay-services.js';
import type { AuditAction } from '../store/audit-store.js';

/**
 * The upload protocol, one route per operation. init needs a user with an uploader role; every
 * other operation needs the upload token issued for that very upload.
 */
export function registerUploadRoutes(app: FastifyInstance, services: RelayServices): void {
  const { uploads, guards } = services;
  const uploadToken = guards.requireUploadToken();
  const auditUpload = (request: FastifyRequest, action: AuditAction, uploadId: string, detail = '') => {
    const upload = uploads.repository.find(uploadId);
    return services.audit.record({
      action, outcome: 'success', address: request.ip,
      actorUserId: request.principal?.userId ?? request.uploadPrincipal?.userId ?? null,
      target: `upload ${uploadId} study ${upload?.studyInstanceUid ?? '?'}${detail}`,
    });
  };

  app.post('/upload/init', { schema: { body: InitUploadRequest }, onRequest: guards.requireUser(UPLOADER_ROLES) }, async (request, reply) => {
    const answer = await uploads.init(request.principal!, request.body as InitUploadRequest);
    if (!answer.resumed) {
      const { study, instances } = request.body as InitUploadRequest;
      await auditUpload(request, 'upload-start', answer.uploadId, ` ${study.serviceLevel}, ${instances.length} instances, from ${study.sourceWorkstation ?? 'unnamed workstation'}`);
    }
    return reply.status(answer.resumed ? 200 : 201).send(answer);
  });

  app.get('/upload/:id/status', { schema: { params: UploadIdParams }, onRequest: uploadToken, exposeHeadRoute: false }, async (request) => {
    return uploads.status(uploadIdOf(request));
  });

  // HEAD .../status?instance=N answers one instance's offsets in headers, tus style.
  app.head('/upload/:id/status', { schema: { params: UploadIdParams, querystring: StatusQueryWire }, onRequest: uploadToken }, async (request, reply) => {
    const query = request.query as { instance?: string };
    const status = uploads.status(uploadIdOf(request));
    void reply.header('upload-received', String(status.receivedBytes)).header('upload-length', String(status.totalBytes));
    if (query.instance !== undefined) {
      const offsets = uploads.instanceOffsets(uploadIdOf(request), queryInteger(query.instance, 'instance'));
      void reply.header('upload-offset', String(offsets.contiguousBytes)).header('upload-length', String(offsets.size));
    }
    return reply.status(200).send();
  });

  // Chunk bodies are not parsed: the handler streams request.raw to storage. Fastify's bodyLimit
  // does not apply to such a stream, so the service enforces Content-Length and counts the bytes.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/octet-stream', (_request, _payload, done) => done(null));
    scope.addContentTypeParser('*', (_request, _payload, done) => done(new RelayError(415, 'UNSUPPORTED_MEDIA_TYPE')));
    const chunkRoute = {
      schema: { params: UploadIdParams, querystring: ChunkQueryWire },
      onRequest: uploadToken,
      // The body is a chunk read at the client's pace: exempt from http.requestTimeoutSeconds.
      config: { streamingBody: true },
    };
    const handler = async (request: FastifyRequest) => {
      const idleMs = services.config.upload.chunkIdleTimeoutSeconds * 1000;
      // A connection that stops sending is dropped rather than held for minutes.
      request.raw.setTimeout(idleMs, () => request.raw.destroy(new Error('chunk upload idle timeout')));
      const lengthHeader = request.headers['content-length'];
      const wire = request.query as { instance: string; offset: string };
      const query: ChunkQuery = { instance: queryInteger(wire.instance, 'instance'), offset: queryInteger(wire.offset, 'offset') };
      return uploads.receiveChunk(uploadIdOf(request), query, {
        contentLength: lengthHeader === undefined ? undefined : Number(lengthHeader),
        contentDigest: request.headers['content-digest'],
      }, request.raw);
    };
    scope.put('/upload/:id/chunk', chunkRoute, handler);
    scope.post('/upload/:id/chunk', chunkRoute, handler);
  });

  app.post('/upload/:id/complete', { schema: { params: UploadIdParams }, onRequest: uploadToken }, async (request) => {
    const wasAccepted = uploads.repository.find(uploadIdOf(request))?.state === 'accepted';
    const status = await uploads.complete(uploadIdOf(request));
    if (!wasAccepted) {
      const rejected = status.instances.filter((i) => i.state === 'rejected').length;
      await auditUpload(request, 'upload-complete', status.uploadId, `: ${status.instances.length - rejected} accepted, ${rejected} rejected`);
    }
    return status;
  });

  // Queues again the instances whose delivery failed for good (after the PACS was fixed, say).
  const retry = async (request: FastifyRequest) => {
    if (!uploads.repository.find(uploadIdOf(request))) throw new RelayError(404, 'UPLOAD_NOT_FOUND');
    const requeued = services.deliveries.retryFailed(uploadIdOf(request));
    await auditUpload(request, 'upload-retry', uploadIdOf(request), `: ${requeued} instance deliveries requeued`);
    return { requeued };
  };
  app.post('/upload/:id/retry', { schema: { params: UploadIdParams }, onRequest: uploadToken }, retry);
  app.post('/admin/uploads/:id/retry', { schema: { params: UploadIdParams }, onRequest: guards.requireUser(ADMIN_ROLES) }, retry);

  app.delete('/upload/:id', { schema: { params: UploadIdParams }, onRequest: uploadToken }, async (request, reply) => {
    await uploads.cancel(uploadIdOf(request));
    await auditUpload(request, 'upload-cancel', uploadIdOf(request));
    return reply.status(204).send();
  });
}

function queryInteger(text: string, name: string): number {
  const value = parseQueryInteger(text);
  if (value === undefined) throw new RelayError(400, 'BAD_REQUEST', `${name} is larger than the relay can address`);
  return value;
}

function uploadIdOf(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}
