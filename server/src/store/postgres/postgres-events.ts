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
 * "after id N" never passes over one that commits later; an append is one short statement, so
 * taking turns costs little.
 */
export class PostgresEvents implements EventsStore {
  constructor(private readonly db: Db) {}

  async append(entries: readonly NewEvent[], at: string): Promise<number[]> {
    if (entries.length === 0) return [];
    // One statement, its own transaction: the lock (a CTE the INSERT joins, so it is taken before
    // any id is drawn) is held until the statement commits; the events go in in their order, and
    // their ids follow it.
    const { rows } = await this.db.step<{ id: string }>(`WITH turn AS (SELECT pg_advisory_xact_lock($1, $2))
      INSERT INTO relay_events (owner_user_id, body, at)
        SELECT e.owner_user_id, e.body, $5 FROM turn, unnest($3::bigint[], $4::text[]) WITH ORDINALITY AS e(owner_user_id, body, n) ORDER BY e.n
      RETURNING id`, [...EVENT_APPEND_LOCK, entries.map((e) => e.ownerUserId), entries.map((e) => JSON.stringify(e.event)), at]);
    return rows.map((row) => Number(row.id)).sort((a, b) => a - b);
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
