import { randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import type { SignalsStore, SignalTopic } from '../signals-store.js';
import type { Db } from './postgres-db.js';

const TOPICS: readonly SignalTopic[] = ['deliveries', 'events', 'keys'];
/** The channel of a topic: fixed identifiers, never built from input. */
const channelOf = (topic: SignalTopic): string => `relaypacs_${topic}`;
const RETRY_FIRST_MS = 500;
/** The most often one signal is sent: other relays hear of a burst within this much of its end. */
const NOTIFY_EVERY_MS = 50;
const RETRY_MAX_MS = 30_000;

/**
 * SignalsStore on PostgreSQL's LISTEN/NOTIFY. NOTIFY goes through the pool (delivered when its
 * statement commits); LISTEN needs a session of its own, held open: one connection per relay,
 * opened at the first listen, opened again (500 ms, doubling to 30 s) whenever it is lost. While it
 * is down nothing is heard; once back every handler is called with '' (what happened meanwhile is
 * unknown), and the listeners' polling covered the gap. A notification carries its sender
 * (`SENDER PAYLOAD`), so a relay skips its own.
 */
export class PostgresSignals implements SignalsStore {
  private readonly handlers = new Map<SignalTopic, Set<(payload: string) => void>>();
  /** Signals being sent or just sent (topic and payload), and whether one was asked for again meanwhile. */
  private readonly sending = new Map<string, { again: boolean }>();
  private client: Client | undefined;
  private connecting = false;
  private retry: NodeJS.Timeout | undefined;
  private retryMs = RETRY_FIRST_MS;
  private closed = false;
  /** Whether a session was lost (or never opened): the next one to open says so to the handlers. */
  private missed = false;
  /** This store's name on the channels. */
  private readonly sender = randomUUID();

  constructor(private readonly db: Db, private readonly newClient: () => Client) {}

  async notify(topic: SignalTopic, payload: string): Promise<void> {
    // At most one statement per signal (topic and payload) every NOTIFY_EVERY_MS: a burst of small
    // instances queued or events kept would otherwise send one each. The last ask of a burst is
    // always sent (a listener that heard an earlier one may have looked before the later change).
    const key = `${topic}\n${payload}`;
    const pending = this.sending.get(key);
    if (pending) {
      pending.again = true;
      return;
    }
    const state = { again: false };
    this.sending.set(key, state);
    try {
      do {
        state.again = false;
        await this.db.query('SELECT pg_notify($1, $2)', [channelOf(topic), `${this.sender} ${payload}`]).catch(() => {
          // A signal lost: the listeners poll.
        });
        await new Promise((resolve) => setTimeout(resolve, NOTIFY_EVERY_MS).unref());
      } while (state.again && !this.closed);
    } finally {
      this.sending.delete(key);
    }
  }

  listen(topic: SignalTopic, handler: (payload: string) => void): () => void {
    const handlers = this.handlers.get(topic) ?? new Set();
    handlers.add(handler);
    this.handlers.set(topic, handlers);
    this.open();
    return () => handlers.delete(handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private open(): void {
    if (this.client || this.connecting || this.retry || this.closed) return;
    this.connecting = true;
    const client = this.newClient();
    // Without an 'error' listener a lost connection would end the process.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      const topic = TOPICS.find((t) => channelOf(t) === message.channel);
      const text = message.payload ?? '';
      const space = text.indexOf(' ');
      if (!topic || space < 0 || text.slice(0, space) === this.sender) return;
      dispatch([...(this.handlers.get(topic) ?? [])], text.slice(space + 1));
    });
    void (async () => {
      try {
        await client.connect();
        for (const topic of TOPICS) await client.query(`LISTEN ${channelOf(topic)}`);
        if (this.closed) {
          await client.end();
          return;
        }
        this.client = client;
        this.retryMs = RETRY_FIRST_MS;
        if (this.missed) for (const handlers of this.handlers.values()) dispatch([...handlers], '');
        this.missed = false;
      } catch {
        await client.end().catch(() => {});
        this.lost(client);
      } finally {
        this.connecting = false;
      }
    })();
  }

  private lost(client: Client): void {
    if (this.client === client) this.client = undefined;
    if (this.closed || this.client || this.retry) return;
    this.missed = true;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.open();
    }, this.retryMs);
    this.retry.unref();
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }
}

/** Calls each handler; one that throws does not keep the signal from the others. */
function dispatch(handlers: Iterable<(payload: string) => void>, payload: string): void {
  for (const handler of handlers) {
    try {
      handler(payload);
    } catch {
      // A handler's failure is its own to report: a signal is a hint.
    }
  }
}
