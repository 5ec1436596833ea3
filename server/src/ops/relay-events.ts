import { EventEmitter } from 'node:events';

/** Upload lifecycle events, as sent on GET /events. Ids and states only: never PHI. */
export type RelayEvent =
  | { type: 'received'; uploadId: string; instance: number }
  | { type: 'validated'; uploadId: string; instance: number; ok: boolean; reason?: string }
  | { type: 'accepted'; uploadId: string }
  | { type: 'forwarding'; uploadId: string; instance: number; destinations: string[] }
  | { type: 'delivered'; uploadId: string; instance?: number; destination?: string }
  | { type: 'confirmed'; uploadId: string; instance: number; destination: string }
  | { type: 'failed'; uploadId: string; instance: number; destination: string; reason: string };

/**
 * Where upload events go, from the services that cause them to the event streams (GET /events) of
 * the upload's owner and of admins. The publisher names the owner, so the bus never looks anything
 * up. The in-process bus serves one relay; relays sharing one database need a bus that crosses
 * processes (PostgreSQL LISTEN/NOTIFY), which implements this same interface and passes the same
 * contract suite (server/test/ops/event-bus-contract.ts).
 *
 * Events are published after the commit that made them true, never before: a subscriber told
 * "verified" finds the instance verified.
 */
export interface RelayEventBus {
  /** Delivers the event to the owner's subscribers and to every 'all' subscriber. Never throws, never waits. */
  publish(ownerUserId: number, event: RelayEvent): void;
  /** Subscribes to one user's upload events (or every upload's, for `'all'`); returns the unsubscribe. */
  subscribe(scope: number | 'all', listener: (event: RelayEvent) => void): () => void;
}

/**
 * The bus inside one relay process. A listener that falls behind is its stream's problem (it
 * buffers or drops), never the publisher's; a listener that throws does not stop the others.
 */
export class InProcessEventBus implements RelayEventBus {
  private readonly emitter = new EventEmitter();

  constructor(private readonly onListenerError: (error: unknown) => void = () => undefined) {
    // One listener per open event stream; hundreds of workstations are normal.
    this.emitter.setMaxListeners(0);
  }

  publish(ownerUserId: number, event: RelayEvent): void {
    this.emitter.emit(`user:${ownerUserId}`, event);
    this.emitter.emit('all', event);
  }

  subscribe(scope: number | 'all', listener: (event: RelayEvent) => void): () => void {
    const channel = scope === 'all' ? 'all' : `user:${scope}`;
    const guarded = (event: RelayEvent) => {
      try {
        listener(event);
      } catch (error) {
        this.onListenerError(error);
      }
    };
    this.emitter.on(channel, guarded);
    return () => this.emitter.off(channel, guarded);
  }
}
