import type { FastifyInstance } from 'fastify';

/**
 * Headers for an API that serves no pages: nothing is cached, sniffed, framed or allowed to load.
 * HSTS only when the relay itself terminates TLS (RFC 6797 §7.2: ignored over plain HTTP).
 * One list, used by the onSend hook and by answers written straight to the socket (the event stream).
 */
export function securityHeaders(options: { https: boolean }): Record<string, string> {
  return {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'cross-origin-resource-policy': 'same-origin',
    ...(options.https ? { 'strict-transport-security': 'max-age=31536000' } : {}),
  };
}

export function installSecurityHeaders(app: FastifyInstance, options: { https: boolean }): void {
  const headers = Object.entries(securityHeaders(options));
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of headers) void reply.header(name, value);
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    return payload;
  });
}
