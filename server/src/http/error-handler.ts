import type { FastifyError, FastifyInstance } from 'fastify';
import type { RelayErrorCode } from '../protocol/error-codes.js';
import type { ErrorResponse } from '../protocol/error-response.js';
import { isDiskFull } from '../storage/disk-full.js';
import { StorageUnavailableError } from '../storage/storage.js';
import { StoreUnavailableError } from '../store/relay-store.js';

/** Retry-After when the database or the storage does not answer: a restart or a failover takes seconds. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;
import { RelayError, storageFullError } from './relay-error.js';

export interface ErrorHandlerOptions {
  /** Retry-After for a full disk (UploadService.storageRetryAfterSeconds); a minute when absent or failing. */
  storageRetryAfterSeconds?: () => Promise<number>;
}

/**
 * One error handler for the whole relay: deliberate errors go out with their code and details;
 * schema failures become BAD_REQUEST with the field; anything else is a 500 whose detail stays in
 * the log (by request id), never in the response.
 */
export function installErrorHandler(app: FastifyInstance, options: ErrorHandlerOptions = {}): void {
  app.setErrorHandler(async (error: FastifyError | RelayError, request, reply) => {
    if (!(error instanceof RelayError) && isDiskFull(error)) {
      // A full disk anywhere (the database recording an init or a completion, not only a chunk's
      // write) is the client's 507 with the reason, never an internal error (RFC 4918 §11.5).
      request.log.error({ code: (error as { code?: string }).code }, 'request failed: the disk is full');
      error = await storageFull(options);
    }
    if (error instanceof StoreUnavailableError || error instanceof StorageUnavailableError) {
      // Logged without its message: a driver's may carry a host name or a user, never needed by a client.
      request.log.error({ kind: error.constructor.name }, 'request refused: the database or the storage does not answer');
      error = new RelayError(503, 'RELAY_UNAVAILABLE', undefined, {}, { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) });
    }
    if (error instanceof RelayError) {
      for (const [name, value] of Object.entries(error.headers)) void reply.header(name, value);
      return reply.status(error.statusCode).send(errorBody(error.code, error.message, error.details));
    }
    if (error.validation) {
      return reply.status(400).send(errorBody('BAD_REQUEST', `${error.validationContext ?? 'request'}${error.message.replace(/^(body|querystring|params|headers)/, '')}`));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = status === 413 ? 'UPLOAD_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST';
      return reply.status(status).send(errorBody(code, error.message));
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send(errorBody('INTERNAL', 'The relay hit an internal error.', { requestId: request.id }));
  });
  app.setNotFoundHandler((_request, reply) => reply.status(404).send(errorBody('NOT_FOUND', 'Nothing is at this address.')));
}

/**
 * Every error body the relay sends is built here, from a code of the wire table (its type says so),
 * in the shape of the ErrorResponse schema each route answers 4xx and 5xx with.
 */
function errorBody(code: RelayErrorCode, message: string, details: Record<string, unknown> = {}): ErrorResponse {
  return { error: { ...details, code, message } };
}

async function storageFull(options: ErrorHandlerOptions): Promise<RelayError> {
  let seconds = 60;
  try {
    seconds = (await options.storageRetryAfterSeconds?.()) ?? seconds;
  } catch {
    // The database cannot say: a minute.
  }
  return storageFullError(seconds);
}
