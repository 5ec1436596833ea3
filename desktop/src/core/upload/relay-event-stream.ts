import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RelayEvent } from '../../../../server/src/protocol/event-protocol.js';
import { backoffMs } from './backoff.js';
import { EventStreamParser } from './event-stream-parser.js';

/** What a subscriber hears: an event of its upload, or the stream coming up or going down. */
export type UploadEventNotice =
  | { kind: 'event'; event: RelayEvent }
  | { kind: 'connection'; connected: boolean };

/** What the upload engine needs of an event stream. */
export interface UploadEventSource {
  /** True while the stream is open: events will arrive as they happen. */
  readonly connected: boolean;
  /**
   * Listens to one upload's events and to the stream's connection changes; opens the stream if
   * needed. Returns the unsubscribe. Listeners must not throw.
   */
  subscribe(uploadId: string, listener: (notice: UploadEventNotice) => void): () => void;
}

export interface RelayEventStreamOptions {
  /** The relay, e.g. https://relay.hospital.example:8780 (as RelayClientOptions.baseUrl). */
  baseUrl: string;
  /**
   * A valid access token. After a 401 it is called with the token the relay refused, so the
   * provider can refresh rather than hand the same one back.
   */
  accessToken: (rejected?: string) => Promise<string>;
  /** PEM of a private CA the relay's certificate chains to (as RelayClientOptions.ca). */
  ca?: string | Buffer;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** No answer to the request for this long fails the attempt. */
  connectTimeoutMs?: number;
  /** No byte for this long means the link is dead: the relay sends a comment every 15 s. */
  idleTimeoutMs?: number;
  /** How long the stream stays open after its last subscriber left, for the next study to follow. */
  lingerMs?: number;
  random?: () => number;
}

type Listener = (notice: UploadEventNotice) => void;

/**
 * A client of the relay's GET /events (Server-Sent Events, HTML Living Standard §9.2). It opens
 * lazily when the first upload is followed, reconnects with exponential backoff and jitter after a
 * drop or a refusal, fetches a fresh token after a 401, and closes once nothing has been followed
 * for `lingerMs`, or at close(). Its socket is unref'd: an open stream alone never keeps the
 * process alive.
 *
 * Events only say that something changed; the relay numbers them per connection and does not replay
 * missed ones, so subscribers treat an event, and a (re)connection, as a cue to fetch the status.
 * No proxy support: behind a proxy the stream fails to connect and followers poll.
 */
export class RelayEventStream implements UploadEventSource {
  private readonly listeners = new Map<string, Set<Listener>>();
  private state: 'idle' | 'connecting' | 'open' | 'waiting' | 'closed' = 'idle';
  private request: ClientRequest | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** Failed attempts since the last successful connection (drives the backoff). */
  private attempt = 0;
  private rejectedToken: string | undefined;
  private lastEventId = '';
  private serverRetryMs = 0;
  /** Bumped for every connection, so callbacks of an abandoned one are ignored. */
  private generation = 0;

  constructor(private readonly options: RelayEventStreamOptions) {}

  get connected(): boolean {
    return this.state === 'open';
  }

  subscribe(uploadId: string, listener: Listener): () => void {
    if (this.state === 'closed') return () => undefined;
    let set = this.listeners.get(uploadId);
    if (!set) this.listeners.set(uploadId, (set = new Set()));
    set.add(listener);
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.state === 'idle') void this.connect();
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(uploadId) === set) this.listeners.delete(uploadId);
      if (this.listeners.size === 0 && this.state !== 'closed' && this.state !== 'idle') this.linger();
    };
  }

  /** Ends the stream for good: no socket, no timer, no further notices. */
  close(): void {
    this.state = 'closed';
    this.disconnect();
    this.listeners.clear();
  }

  private linger(): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      if (this.listeners.size > 0 || this.state === 'closed') return;
      this.disconnect();
      this.state = 'idle';
    }, this.options.lingerMs ?? 10_000);
    this.lingerTimer.unref();
  }

  private disconnect(): void {
    this.generation++;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.lingerTimer);
    this.reconnectTimer = undefined;
    this.lingerTimer = undefined;
    this.request?.destroy();
    this.request = undefined;
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    this.state = 'connecting';
    let token: string;
    try {
      token = await this.options.accessToken(this.rejectedToken);
    } catch {
      // Not signed in, or the refresh failed (offline): try again later; followers poll meanwhile.
      this.dropped(generation);
      return;
    }
    if (generation !== this.generation) return; // closed or abandoned while the token came
    this.rejectedToken = undefined;
    const url = new URL(`${this.options.baseUrl.replace(/\/+$/, '')}/events`);
    const https = url.protocol === 'https:';
    const request = (https ? httpsRequest : httpRequest)(url, {
      method: 'GET',
      // Its own connection (not the keep-alive pool's): it stays open for as long as we listen.
      agent: false,
      headers: {
        accept: 'text/event-stream',
        authorization: `Bearer ${token}`,
        'cache-control': 'no-store',
        // §9.2.4: a reconnecting client names the last event it saw (the relay may ignore it).
        ...(this.lastEventId ? { 'last-event-id': this.lastEventId } : {}),
      },
      timeout: this.options.connectTimeoutMs ?? 10_000,
      ...(https && this.options.ca ? { ca: this.options.ca } : {}),
    });
    this.request = request;
    request.on('socket', (socket) => socket.unref());
    request.on('timeout', () => request.destroy(new Error('the event stream timed out')));
    request.on('error', () => this.dropped(generation));
    request.on('close', () => this.dropped(generation));
    request.on('response', (response) => {
      if (generation !== this.generation) {
        response.destroy();
        return;
      }
      if (response.statusCode === 401) this.rejectedToken = token;
      // §9.2.3: anything but 200 text/event-stream fails the connection; we retry it later anyway
      // (a relay being upgraded, a proxy page), never faster than the backoff.
      if (response.statusCode !== 200 || !/^text\/event-stream\b/i.test(response.headers['content-type'] ?? '')) {
        response.resume();
        request.destroy();
        return;
      }
      request.setTimeout(this.options.idleTimeoutMs ?? 45_000);
      const parser = new EventStreamParser((event) => this.dispatch(event.data));
      response.on('data', (chunk: Buffer) => {
        try {
          parser.push(chunk);
        } catch {
          request.destroy(); // a malformed stream: reconnect
          return;
        }
        this.lastEventId = parser.lastEventId;
        this.serverRetryMs = parser.reconnectionTimeMs ?? this.serverRetryMs;
      });
      response.on('error', () => this.dropped(generation));
      response.on('end', () => this.dropped(generation));
      this.attempt = 0;
      this.state = 'open';
      this.notifyAll({ kind: 'connection', connected: true });
    });
    request.end();
  }

  private dispatch(data: string): void {
    let event: RelayEvent;
    try {
      event = JSON.parse(data) as RelayEvent;
    } catch {
      return; // not ours to interpret; the status fetch remains the truth
    }
    if (typeof event !== 'object' || event === null || typeof event.uploadId !== 'string') return;
    for (const listener of [...(this.listeners.get(event.uploadId) ?? [])]) listener({ kind: 'event', event });
  }

  /** The connection (or the attempt) ended: tell the followers, and try again if someone still listens. */
  private dropped(generation: number): void {
    if (generation !== this.generation || this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.disconnect();
    this.state = 'idle';
    if (wasOpen) this.notifyAll({ kind: 'connection', connected: false });
    if (this.listeners.size === 0 || this.state !== 'idle') return;
    this.state = 'waiting';
    const delay = Math.max(this.serverRetryMs, backoffMs(this.attempt++, this.options.backoffBaseMs ?? 500, this.options.backoffMaxMs ?? 30_000, this.options.random));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.state === 'waiting') void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private notifyAll(notice: UploadEventNotice): void {
    for (const set of [...this.listeners.values()]) for (const listener of [...set]) listener(notice);
  }
}
