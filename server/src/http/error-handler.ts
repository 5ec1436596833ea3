import type { FastifyError, FastifyInstance } from 'fastify';
import { RelayError } from './relay-error.js';

/**
 * One error handler for the whole relay: deliberate errors go out with their code and details;
 * schema failures become BAD_REQUEST with the field; anything else is a 500 whose detail stays in
 * the log (by request id), never in the response.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | RelayError, request, reply) => {
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
