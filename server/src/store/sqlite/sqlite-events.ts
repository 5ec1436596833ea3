import type { RelayEvent } from '../../protocol/event-protocol.js';
import type { EventsStore, NewEvent, StoredEvent } from '../events-store.js';
import type { Synchronous } from './async-facade.js';
import type { RelayDatabase } from './database.js';

interface EventRow {
  id: number;
  owner_user_id: number;
  body: string;
  at: string;
}

const toStored = (row: EventRow): StoredEvent => ({ id: row.id, ownerUserId: row.owner_user_id, event: JSON.parse(row.body) as RelayEvent, at: row.at });

/** EventsStore's SQL. AUTOINCREMENT: an id is never given twice, even after the newest were pruned. */
export class SqliteEvents implements Synchronous<EventsStore> {
  constructor(private readonly db: RelayDatabase) {}

  append(entries: readonly NewEvent[], at: string): number[] {
    const insert = this.db.prepare('INSERT INTO relay_events (owner_user_id, body, at) VALUES (?, ?, ?)');
    return this.db.transaction(() => entries.map(({ ownerUserId, event }) => Number(insert.run(ownerUserId, JSON.stringify(event), at).lastInsertRowid)))();
  }

  after(afterId: number, scope: number | 'all', limit: number): StoredEvent[] {
    const rows = scope === 'all'
      ? this.db.prepare('SELECT id, owner_user_id, body, at FROM relay_events WHERE id > ? ORDER BY id LIMIT ?').all(afterId, limit)
      : this.db.prepare('SELECT id, owner_user_id, body, at FROM relay_events WHERE owner_user_id = ? AND id > ? ORDER BY id LIMIT ?').all(scope, afterId, limit);
    return (rows as EventRow[]).map(toStored);
  }

  latestId(): number {
    // The sequence, not MAX(id): ids pruned away still count as given.
    const row = this.db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'relay_events'`).get() as { seq: number } | undefined;
    return row?.seq ?? 0;
  }

  oldestId(): number | undefined {
    const row = this.db.prepare('SELECT MIN(id) AS id FROM relay_events').get() as { id: number | null };
    return row.id ?? undefined;
  }

  prune(keep: number): number {
    return this.db.prepare('DELETE FROM relay_events WHERE id <= (SELECT MAX(id) FROM relay_events) - ?').run(keep).changes;
  }
}
