/**
 * Wake-ups between the relays sharing a store: "something of this kind changed", never the change
 * itself. A signal may be lost (a listener reconnecting, a relay restarting): every listener also
 * polls, so a lost signal costs latency, not correctness. A relay is not told its own signals: it
 * acts on its own changes directly. PostgreSQL: LISTEN/NOTIFY; SQLite: one relay, nobody to tell.
 */
export type SignalTopic =
  /** Items were queued or requeued; the payload names the destinations, '' for any. */
  | 'deliveries'
  /** Events were kept (EventsStore); no payload. */
  | 'events'
  /** The JWT signing keys changed (a rotation); no payload. */
  | 'keys';

export interface SignalsStore {
  /**
   * Tells every other relay on the store (and command-line tools' stores) that `topic` changed.
   * Never rejects: a signal that could not be sent is one lost. `payload` stays short (PostgreSQL
   * allows 8,000 bytes).
   */
  notify(topic: SignalTopic, payload: string): Promise<void>;
  /**
   * Calls `handler` for each signal on `topic` from another relay, until the answered function is
   * called. After a time it could not listen (the database was away), the store calls every
   * handler once with '' (anything may have changed meanwhile).
   */
  listen(topic: SignalTopic, handler: (payload: string) => void): () => void;
}
