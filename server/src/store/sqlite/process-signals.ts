import type { SignalsStore, SignalTopic } from '../signals-store.js';

/**
 * SignalsStore of a SQLite database: it has one relay, which acts on its own changes directly, so
 * there is nobody to tell. (A command-line tool on the same file, such as `keys rotate`, is heard at
 * the relay's next poll.)
 */
export class ProcessSignals implements SignalsStore {
  async notify(_topic: SignalTopic, _payload: string): Promise<void> {
    // Nobody else to tell.
  }

  listen(_topic: SignalTopic, _handler: (payload: string) => void): () => void {
    return () => {};
  }
}
