/**
 * Wake-ups between the relays sharing a store: "something of this kind changed", never the change
 * itself. A signal may be lost (a listener reconnecting, a relay restarting): every listener also
 * polls, so a lost signal costs latency, not correctness. PostgreSQL: LISTEN/NOTIFY; SQLite (one
 * relay): this process's own listeners.
 */
export type SignalTopic =
  /** Items were queued or requeued; the payload names the destinations, '' for any. */
  | 'deliveries'
  /** Events were kept (EventsStore); no payload. */
  | 'events';

export interface SignalsStore {
  /**
   * Tells every relay on the store, this one included, that `topic` changed. Never rejects: a
   * signal that could not be sent is one lost. `payload` stays short (PostgreSQL allows 8,000 bytes).
   */
  notify(topic: SignalTopic, payload: string): Promise<void>;
  /**
   * Calls `handler` for each signal on `topic`, from any relay, until the answered function is
   * called. After a time it could not listen (the database was away), the store calls every
   * handler once with '' (anything may have changed meanwhile).
   */
  listen(topic: SignalTopic, handler: (payload: string) => void): () => void;
}

/** Calls each handler; one that throws does not keep the signal from the others. */
export function dispatch(handlers: Iterable<(payload: string) => void>, payload: string): void {
  for (const handler of handlers) {
    try {
      handler(payload);
    } catch {
      // A handler's failure is its own to report: a signal is a hint.
    }
  }
}
