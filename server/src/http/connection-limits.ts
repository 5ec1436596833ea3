import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { RelayConfig } from '../config/relay-config.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route reads its body as a stream at the client's pace (chunks): no whole-request deadline. */
    streamingBody?: boolean;
  }
}

type HttpLimits = RelayConfig['http'];

/**
 * Node's server options for the limits: a header deadline checked every second (Node checks every
 * 30 s by default, so a 10 s deadline could stretch to 40 s), keep-alive idle and request-count
 * limits, and an idle timeout on every socket. Node's own whole-request timeout stays off: it cannot
 * tell a chunk on a slow link from a slowloris, so requestDeadline below does that per route.
 * The result goes both to Fastify and, for HTTPS, into its https options (which Node reads for both).
 */
export function serverLimitOptions(limits: HttpLimits): { fastify: Partial<FastifyServerOptions>; node: { headersTimeout: number; connectionsCheckingInterval: number; requestTimeout: number } } {
  return {
    fastify: {
      keepAliveTimeout: limits.keepAliveTimeoutSeconds * 1000,
      connectionTimeout: limits.idleConnectionTimeoutSeconds * 1000,
      requestTimeout: 0,
      maxRequestsPerSocket: limits.maxRequestsPerConnection,
    },
    node: { headersTimeout: limits.headersTimeoutSeconds * 1000, connectionsCheckingInterval: 1000, requestTimeout: 0 },
  };
}

/**
 * Caps open connections per client address and in all. A connection over a cap is closed before a
 * byte is read; legitimate clients (the agent) reconnect with backoff. Counted at the TCP level, so
 * for HTTPS before any TLS work is spent on it.
 */
export function capConnections(server: Server, limits: HttpLimits, onRefused: (address: string) => void = () => undefined): void {
  server.maxConnections = limits.maxConnections;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const count = (open.get(address) ?? 0) + 1;
    if (count > limits.maxConnectionsPerAddress) {
      onRefused(address);
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}

/**
 * Every request whose route does not stream its body must have arrived whole within
 * http.requestTimeoutSeconds of its first byte; otherwise its connection is closed. This is what
 * ends a slow-body login (one byte every ten seconds never trips an idle timeout). The deadline
 * covers arrival only: a handler that takes long to answer a complete request is not cut off.
 */
export function installRequestDeadline(app: FastifyInstance, limits: HttpLimits): void {
  const deadlineMs = limits.requestTimeoutSeconds * 1000;
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.config.streamingBody || request.raw.complete) {
      done();
      return;
    }
    const timer = setTimeout(() => {
      if (request.raw.complete) return;
      request.log.info({ route: request.routeOptions.url }, 'request body not received in time: connection closed');
      request.raw.socket.destroy();
    }, deadlineMs);
    timer.unref();
    reply.raw.once('close', () => clearTimeout(timer));
    request.raw.once('end', () => clearTimeout(timer));
    done();
  });
}
