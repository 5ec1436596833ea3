import { EventEmitter } from 'node:events';
import type { RelayEvent } from '../protocol/event-protocol.js';

/** A subscriber of upload events: the event and its id (the SSE id a client resumes from). */
export type EventListener = (event: RelayEvent, id: number) => void;

/**
 * Hands events to this process's subscribers: the owner's, and every 'all' subscriber (admins). A
 * listener that falls behind is its stream's problem (it buffers or drops), never the emitter's; a
 * listener that throws does not stop the others.
 */
export class EventFanOut {
  private readonly emitter = new EventEmitter();

  constructor(private readonly onListenerError: (error: unknown) => void = () => undefined) {
    // One listener per open event stream; hundreds of workstations are normal.
    this.emitter.setMaxListeners(0);
  }

  emit(ownerUserId: number, event: RelayEvent, id: number): void {
    this.emitter.emit(`user:${ownerUserId}`, event, id);
    this.emitter.emit('all', event, id);
  }

  subscribe(scope: number | 'all', listener: EventListener): () => void {
    const channel = scope === 'all' ? 'all' : `user:${scope}`;
    const guarded = (event: RelayEvent, id: number) => {
      try {
        listener(event, id);
      } catch (error) {
        this.onListenerError(error);
      }
    };
    this.emitter.on(channel, guarded);
    return () => this.emitter.off(channel, guarded);
  }
}
