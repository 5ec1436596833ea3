import type { FastifyInstance } from 'fastify';

/**
 * Headers for an API that serves no pages: nothing is cached, sniffed, framed or allowed to load.
 * HSTS only when the relay itself terminates TLS.
 */
export function installSecurityHeaders(app: FastifyInstance, options: { https: boolean }): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('x-frame-options', 'DENY');
    void reply.header('referrer-policy', 'no-referrer');
    void reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    void reply.header('cross-origin-resource-policy', 'same-origin');
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    if (options.https) void reply.header('strict-transport-security', 'max-age=31536000');
    return payload;
  });
}
