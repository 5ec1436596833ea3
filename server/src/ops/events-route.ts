import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { ADMIN_ROLES } from '../auth/roles.js';
import type { VerifiedAccess } from '../auth/token-service.js';
import { ERROR_RESPONSES } from '../http/route-responses.js';
import { securityHeaders } from '../http/security-headers.js';
import { RELAY_SERVICES_PLUGIN } from '../http/services-plugin.js';
import { RESYNC_EVENT, type RelayEvent } from '../protocol/event-protocol.js';

/** Events not yet taken by a client beyond this are not buffered: the stream is dropped and the client resyncs from status. */
export const MAX_UNSENT_EVENT_BYTES = 1024 * 1024;
/** How often open streams are checked against their session and token: a stream outlives neither by more than this. */
export const STREAM_CHECK_MS = 2_000;
const HEARTBEAT_MS = 15_000;
/** Missed events replayed to a reconnecting client at most; beyond, it is told to resync from status. */
export const MAX_REPLAYED_EVENTS = 10_000;

/** The stream itself (text/event-stream), written to the socket: never serialized by Fastify. */
const EventStream = Type.String({ description: 'text/event-stream' });

interface OpenStream {
  principal: VerifiedAccess;
  end(reason: string): void;
}

/**
 * GET /events: a Server-Sent Events stream (HTML Living Standard §9.2) of the caller's upload
 * lifecycle events; admins see every upload's. A comment line every 15 s keeps proxies from
 * closing an idle stream. Each event's `id` is the relay's event id: a client reconnecting with
 * Last-Event-ID (§9.2.4; a workstation that slept, lost its link, or reached another relay behind the
 * balancer) first gets the events it missed, from the kept ones (events.retainCount), then the live
 * ones; when some it missed are no longer kept it gets a `resync` event first and takes the state of
 * its uploads from their status.
 *
 * A stream lives no longer than what authorised it: every STREAM_CHECK_MS the open streams are
 * checked, and one whose session ended (sign-out, revocation, password change, account disabled)
 * or whose access token expired is closed. The client reconnects with a fresh token and resyncs
 * from status (§9.2.3), or is refused. A client that does not read is not buffered for without
 * bound: past MAX_UNSENT_EVENT_BYTES unsent it is dropped. Streams also end when the relay closes
 * (they never finish on their own, so a shutdown would otherwise wait on every workstation).
 */
const registerEventsRoute: FastifyPluginAsyncTypebox<{ https: boolean }> = async (app, options) => {
  const { services } = app;
  const open = new Set<OpenStream>();
  // Written straight to the socket (hijacked), so the onSend hook that adds them elsewhere never runs.
  const headers = { ...securityHeaders(options), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' };
  const check = setInterval(() => {
    const now = services.now();
    for (const stream of [...open]) {
      const { principal } = stream;
      if (principal.expiresAt <= now) {
        stream.end('access token expired');
        continue;
      }
      // A store that cannot answer ends nothing: the next check asks again.
      void services.store.sessions.isActive(principal.sessionId, principal.userId).then((active) => {
        if (!active && open.has(stream)) stream.end('session ended');
      }, () => undefined);
    }
  }, STREAM_CHECK_MS);
  check.unref();
  app.addHook('preClose', (done) => {
    clearInterval(check);
    for (const stream of [...open]) stream.end('relay closing');
    done();
  });
  app.get('/events', { schema: { response: { 200: EventStream, ...ERROR_RESPONSES } }, onRequest: services.guards.requireUser() }, async (request, reply) => {
    const principal = request.principal!;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, headers);
    const send = (text: string) => {
      // The stream may have ended meanwhile (its session ended, the relay is closing) while the
      // missed events were being read: writing to it then would be an error nobody listens for.
      if (raw.writableEnded || raw.destroyed) return;
      raw.write(text);
      if (raw.writableLength > MAX_UNSENT_EVENT_BYTES) stream.end('client not reading');
    };
    const scope = ADMIN_ROLES.includes(principal.role) ? 'all' as const : principal.userId;
    const resumeAfter = lastEventId(request.headers['last-event-id']);
    // Live events that arrive while the missed ones are read wait here, then follow them; none
    // is sent twice or out of order (ids only grow).
    let sentUpTo = resumeAfter ?? 0;
    let waiting: { event: RelayEvent; id: number }[] | undefined = resumeAfter === undefined ? undefined : [];
    const deliver = (event: RelayEvent, id: number) => {
      if (id <= sentUpTo) return;
      sentUpTo = id;
      send(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    };
    const unsubscribe = services.events.subscribe(scope, (event, id) => (waiting ? waiting.push({ event, id }) : deliver(event, id)));
    const heartbeat = setInterval(() => send(': keep-alive\n\n'), HEARTBEAT_MS);
    const forget = () => {
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(stream);
    };
    const stream: OpenStream = {
      principal,
      end(reason) {
        forget();
        request.log.info({ userId: principal.userId, reason }, 'event stream closed');
        endStream(raw, reason);
      },
    };
    open.add(stream);
    request.raw.once('close', forget);
    raw.once('close', forget);
    send(': connected\n\n');
    if (resumeAfter === undefined) return;
    try {
      const missed = await services.events.replay(scope, resumeAfter, MAX_REPLAYED_EVENTS);
      if (missed.gap) {
        send(`event: ${RESYNC_EVENT}\ndata: ${JSON.stringify({ type: RESYNC_EVENT })}\n\n`);
        // Ids past ours (an unknown Last-Event-ID) must not hold back the events to come.
        sentUpTo = Math.min(sentUpTo, missed.events[0] ? missed.events[0].id - 1 : 0);
      }
      for (const { event, id } of missed.events) deliver(event, id);
    } catch (error) {
      request.log.error({ err: error }, 'missed events could not be read');
      send(`event: ${RESYNC_EVENT}\ndata: ${JSON.stringify({ type: RESYNC_EVENT })}\n\n`);
    }
    const live = waiting ?? [];
    waiting = undefined;
    for (const { event, id } of live) deliver(event, id);
  });
};

/** The Last-Event-ID a reconnecting client sends (§9.2.4), when it is one of the relay's ids. */
function lastEventId(header: string | string[] | undefined): number | undefined {
  const text = Array.isArray(header) ? header[0] : header;
  if (text === undefined || !/^\d{1,15}$/.test(text.trim())) return undefined;
  return Number(text.trim());
}

export const eventsRoute = fp(registerEventsRoute, { name: 'events-route', dependencies: [RELAY_SERVICES_PLUGIN] });

/**
 * A client that reads gets the end of the stream; one that does not (its buffer is full) is cut,
 * since ending would wait for it to take what is queued.
 */
function endStream(raw: ServerResponse, reason: string): void {
  if (raw.writableLength > MAX_UNSENT_EVENT_BYTES || raw.writableNeedDrain) {
    raw.destroy();
    return;
  }
  raw.end(`: closed, ${reason}\n\n`);
  // A client that stopped reading after all must not hold the socket.
  setTimeout(() => raw.destroy(), 5_000).unref();
}
