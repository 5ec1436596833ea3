import type { FastifyInstance } from 'fastify';
import { ADMIN_ROLES } from '../auth/roles.js';
import type { RelayServices } from '../relay-services.js';

/**
 * GET /events: a Server-Sent Events stream (HTML Living Standard §9.2) of the caller's upload
 * lifecycle events; admins see every upload's. A comment line every 15 s keeps proxies from
 * closing an idle stream. Streams end when the relay closes: they never finish on their own, so
 * without that a shutdown would wait on every connected workstation (clients reconnect elsewhere
 * or later, §9.2.3).
 */
export function registerEventsRoute(app: FastifyInstance, services: RelayServices): void {
  const open = new Set<() => void>();
  app.addHook('preClose', (done) => {
    for (const end of [...open]) end();
    done();
  });
  app.get('/events', { preHandler: services.guards.requireUser() }, async (request, reply) => {
    const principal = request.principal!;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    raw.write(': connected\n\n');
    let id = 0;
    const unsubscribe = services.events.subscribe(ADMIN_ROLES.includes(principal.role) ? 'all' : principal.userId, (event) => {
      raw.write(`id: ${++id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
    const close = () => {
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(end);
    };
    const end = () => {
      close();
      raw.end();
    };
    open.add(end);
    request.raw.once('close', close);
    raw.once('close', close);
  });
}
