import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

/** How long a refused client gets to read the answer before its connection is dropped. */
const LINGER_MS = 2_000;

/**
 * A request refused before its body was read (401 on a chunk, 413 on a body over the limit, 404,
 * 409...) is answered with `Connection: close` and its body is read at most `maxBytes` further.
 * Without this Node keeps the connection alive and reads the whole declared body to reach the next
 * request: a client announcing 64 GiB without a token made the relay read gigabytes for nothing.
 *
 * Why read anything at all: closing a socket with unread data makes the kernel answer with a reset,
 * and a reset can destroy the answer before the client has read it (the "lingering close" of
 * RFC 9112 §9.6). So the relay sends its answer and FIN, reads (and drops) at most `maxBytes` more,
 * then stops reading (TCP flow control holds the sender) and drops the connection after LINGER_MS.
 */
export function installRefusedBodyLimit(app: FastifyInstance, maxBytes: number): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode >= 400 && bodyStillComing(request.raw)) {
      void reply.header('connection', 'close');
      discardAtMost(request.raw, maxBytes);
    }
    return payload;
  });
}

function bodyStillComing(request: IncomingMessage): boolean {
  if (request.complete) return false;
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function discardAtMost(request: IncomingMessage, maxBytes: number): void {
  // The connection may be gone already: the client dropped it mid-body, or the relay stopped reading
  // mid-body (a handler's `for await` over the body that throws, on ENOSPC say, destroys the request
  // and its socket). Node has then detached the socket, and there is nothing left to limit.
  const socket = request.socket as IncomingMessage['socket'] | null;
  if (!socket || socket.destroyed) return;
  let read = 0;
  // Reading marks the body as consumed, so Node does not "dump" (read to the end) it after the answer.
  request.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read >= maxBytes) request.pause();
  });
  if (maxBytes === 0) request.pause();
  // With Connection: close Node ends and destroys the socket as soon as the answer is written;
  // instead the answer and FIN go out and the socket lingers briefly (see above).
  socket.destroySoon = () => {
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
}
