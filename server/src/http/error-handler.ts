import type { FastifyError, FastifyInstance } from 'fastify';
import { isDiskFull } from '../storage/disk-full.js';
import { RelayError, storageFullError } from './relay-error.js';

export interface ErrorHandlerOptions {
  /** Retry-After for a full disk (UploadService.storageRetryAfterSeconds); a minute when absent or failing. */
  storageRetryAfterSeconds?: () => number;
}

/**
 * One error handler for the whole relay: deliberate errors go out with their code and details;
 * schema failures become BAD_REQUEST with the field; anything else is a 500 whose detail stays in
 * the log (by request id), never in the response.
 */
export function installErrorHandler(app: FastifyInstance, options: ErrorHandlerOptions = {}): void {
  app.setErrorHandler((error: FastifyError | RelayError, request, reply) => {
    if (!(error instanceof RelayError) && isDiskFull(error)) {
      // A full disk anywhere (the database recording an init or a completion, not only a chunk's
      // write) is the client's 507 with the reason, never an internal error (RFC 4918 §11.5).
      request.log.error({ code: (error as { code?: string }).code }, 'request failed: the disk is full');
      error = storageFull(options);
    }
    if (error instanceof RelayError) {
      for (const [name, value] of Object.entries(error.headers)) void reply.header(name, value);
      return reply.status(error.statusCode).send({ error: { code: error.code, message: error.message, ...error.details } });
    }
    if (error.validation) {
      return reply.status(400).send({ error: { code: 'BAD_REQUEST', message: `${error.validationContext ?? 'request'}${error.message.replace(/^(body|querystring|params|headers)/, '')}` } });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = status === 413 ? 'UPLOAD_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST';
      return reply.status(status).send({ error: { code, message: error.message } });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'The relay hit an internal error.', requestId: request.id } });
  });
  app.setNotFoundHandler((_request, reply) => reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'Nothing is at this address.' } }));
}

function storageFull(options: ErrorHandlerOptions): RelayError {
  let seconds = 60;
  try {
    seconds = options.storageRetryAfterSeconds?.() ?? seconds;
  } catch {
    // The database cannot say: a minute.
  }
  return storageFullError(seconds);
}
