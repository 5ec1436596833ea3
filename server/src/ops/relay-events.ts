import { EventEmitter } from 'node:events';
import type { RelayDatabase } from '../db/database.js';

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
 * In-process fan-out of upload events to the event streams of the upload's owner. A listener that
 * falls behind is its stream's problem (it buffers or drops), never the relay's.
 */
export class RelayEvents {
  private readonly emitter = new EventEmitter();

  constructor(private readonly db: RelayDatabase) {
    // One listener per open event stream; hundreds of workstations are normal.
    this.emitter.setMaxListeners(0);
  }

  emitForUpload(uploadId: string, event: RelayEvent): void {
    const row = this.db.prepare('SELECT user_id FROM uploads WHERE id = ?').get(uploadId) as { user_id: number } | undefined;
    if (row) this.emitter.emit(`user:${row.user_id}`, event);
    this.emitter.emit('all', event);
  }

  /** Subscribes to one user's upload events (or every upload's, for `'all'`); returns the unsubscribe. */
  subscribe(scope: number | 'all', listener: (event: RelayEvent) => void): () => void {
    const channel = scope === 'all' ? 'all' : `user:${scope}`;
    this.emitter.on(channel, listener);
    return () => this.emitter.off(channel, listener);
  }
}
