// A client of GET /events for tests: Server-Sent Events (HTML Living Standard §9.2) read as the relay
// writes them, with Last-Event-ID on (re)connection.
import { request as httpRequest, type ClientRequest } from 'node:http';

/** One event as the relay writes it (the desktop's EventStreamParser reads the general format). */
export interface ServerSentEvent {
  type: string;
  data: string;
  lastEventId: string;
}

/** An open event stream and the events it got so far. */
export function openStream(url: string, token: string, lastEventId?: string): { events: ServerSentEvent[]; close(): void } {
  const events: ServerSentEvent[] = [];
  let text = '';
  let last = '';
  const take = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    let end: number;
    while ((end = text.indexOf('\n\n')) >= 0) {
      const block = text.slice(0, end).split('\n');
      text = text.slice(end + 2);
      const field = (name: string) => block.find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
      const data = field('data');
      if (data === undefined) continue; // a comment (keep-alive, connected)
      last = field('id') ?? last;
      events.push({ type: field('event') ?? 'message', data, lastEventId: last });
    }
  };
  const request: ClientRequest = httpRequest(`${url}/events`, {
    headers: { authorization: `Bearer ${token}`, ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }) },
  }, (response) => response.on('data', take));
  request.on('error', () => undefined);
  request.end();
  return { events, close: () => request.destroy() };
}

