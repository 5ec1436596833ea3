import { dispatch, type SignalsStore, type SignalTopic } from '../signals-store.js';

/** SignalsStore for one process: a SQLite database has one relay, so its signals go no further. */
export class ProcessSignals implements SignalsStore {
  private readonly handlers = new Map<SignalTopic, Set<(payload: string) => void>>();

  async notify(topic: SignalTopic, payload: string): Promise<void> {
    // Delivered after the caller's turn, as a database's notification would be.
    const handlers = [...(this.handlers.get(topic) ?? [])];
    if (handlers.length > 0) queueMicrotask(() => dispatch(handlers, payload));
  }

  listen(topic: SignalTopic, handler: (payload: string) => void): () => void {
    const handlers = this.handlers.get(topic) ?? new Set();
    handlers.add(handler);
    this.handlers.set(topic, handlers);
    return () => handlers.delete(handler);
  }
}
