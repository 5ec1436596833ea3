import type { RelayEvent } from '../../protocol/event-protocol.js';
import type { EventsStore, NewEvent, StoredEvent } from '../events-store.js';
import { EVENT_APPEND_LOCK, type Db } from './postgres-db.js';

interface EventRow {
  id: string | number;
  owner_user_id: string | number;
  body: string;
  at: string;
}

const toStored = (row: EventRow): StoredEvent => ({ id: Number(row.id), ownerUserId: Number(row.owner_user_id), event: JSON.parse(row.body) as RelayEvent, at: row.at });

/**
 * EventsStore's SQL. Appends hold EVENT_APPEND_LOCK until they commit, so ids commit in order and
 * "after id N" never passes over one that commits later; appends are one short insert each, so
 * taking turns costs little.
 */
export class PostgresEvents implements EventsStore {
  constructor(private readonly db: Db) {}

  append(entries: readonly NewEvent[], at: string): Promise<number[]> {
    if (entries.length === 0) return Promise.resolve([]);
    return this.db.atomic(async (db) => {
      await db.query('SELECT pg_advisory_xact_lock($1, $2)', EVENT_APPEND_LOCK);
      const ids: number[] = [];
      // One statement an event, one commit for all: the commit's fsync is what costs.
      for (const { ownerUserId, event } of entries) {
        const { rows } = await db.query<{ id: string }>('INSERT INTO relay_events (owner_user_id, body, at) VALUES ($1, $2, $3) RETURNING id',
          [ownerUserId, JSON.stringify(event), at]);
        ids.push(Number(rows[0]!.id));
      }
      return ids;
    });
  }

  async after(afterId: number, scope: number | 'all', limit: number): Promise<StoredEvent[]> {
    const { rows } = scope === 'all'
      ? await this.db.query<EventRow>('SELECT id, owner_user_id, body, at FROM relay_events WHERE id > $1 ORDER BY id LIMIT $2', [afterId, limit])
      : await this.db.query<EventRow>('SELECT id, owner_user_id, body, at FROM relay_events WHERE owner_user_id = $1 AND id > $2 ORDER BY id LIMIT $3', [scope, afterId, limit]);
    return rows.map(toStored);
  }

  latestId(): Promise<number> {
    // The sequence, not max(id): ids pruned away still count as given. Read under the append lock,
    // so no id it reports belongs to an append that has not committed yet.
    return this.db.atomic(async (db) => {
      await db.query('SELECT pg_advisory_xact_lock($1, $2)', EVENT_APPEND_LOCK);
      const sequence = await db.query<{ name: string }>(`SELECT pg_get_serial_sequence('relay_events', 'id') AS name`);
      const { rows: values } = await db.query<{ last_value: string; is_called: boolean }>(`SELECT last_value, is_called FROM ${sequence.rows[0]!.name}`);
      const value = values[0]!;
      return value.is_called ? Number(value.last_value) : 0;
    });
  }

  async oldestId(): Promise<number | undefined> {
    const { rows } = await this.db.query<{ id: string | null }>('SELECT min(id) AS id FROM relay_events');
    return rows[0]?.id == null ? undefined : Number(rows[0].id);
  }

  async prune(keep: number): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM relay_events WHERE id <= (SELECT max(id) FROM relay_events) - $1', [keep]);
    return rowCount ?? 0;
  }
}
