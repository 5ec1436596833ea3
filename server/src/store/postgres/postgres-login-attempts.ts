import type { LoginAttemptScope, LoginAttemptsStore } from '../accounts-store.js';
import type { Db } from './postgres-db.js';

/**
 * LoginAttemptsStore's SQL: one row per attempt. Identity ids grow with every insert, so "newest"
 * and "least recently added to" are by id, as in SQLite. The rate limiter calls these inside one
 * unit of work per login (serialized across relays), so its check and its count are one step.
 */
export class PostgresLoginAttempts implements LoginAttemptsStore {
  constructor(private readonly db: Db) {}

  async timesAfter(scope: LoginAttemptScope, key: string, afterMs: number): Promise<number[]> {
    const { rows } = await this.db.query<{ at_ms: number }>(
      'SELECT at_ms FROM login_attempts WHERE scope = $1 AND key = $2 AND at_ms > $3 ORDER BY id', [scope, key, afterMs]);
    return rows.map((row) => row.at_ms);
  }

  async add(scope: LoginAttemptScope, key: string, atMs: number, keep: number): Promise<void> {
    // Two statements: the DELETE must see the row just inserted (one statement's CTEs share a snapshot).
    await this.db.atomic(async (db) => {
      await db.query('INSERT INTO login_attempts (scope, key, at_ms) VALUES ($1, $2, $3)', [scope, key, atMs]);
      await db.query(`DELETE FROM login_attempts WHERE scope = $1 AND key = $2 AND id NOT IN
        (SELECT id FROM login_attempts WHERE scope = $1 AND key = $2 ORDER BY id DESC LIMIT $3)`, [scope, key, keep]);
    });
  }

  async removeNewest(scope: LoginAttemptScope, key: string): Promise<void> {
    await this.db.query('DELETE FROM login_attempts WHERE id = (SELECT max(id) FROM login_attempts WHERE scope = $1 AND key = $2)', [scope, key]);
  }

  async clear(scope: LoginAttemptScope, key: string): Promise<void> {
    await this.db.query('DELETE FROM login_attempts WHERE scope = $1 AND key = $2', [scope, key]);
  }

  async pruneUpTo(scope: LoginAttemptScope, cutoffMs: number): Promise<void> {
    await this.db.query('DELETE FROM login_attempts WHERE scope = $1 AND at_ms <= $2', [scope, cutoffMs]);
  }

  async keyCount(scope: LoginAttemptScope, except?: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      'SELECT count(DISTINCT key) AS n FROM login_attempts WHERE scope = $1 AND key IS DISTINCT FROM $2::text', [scope, except ?? null]);
    return rows[0]!.n;
  }

  async forgetLeastRecent(scope: LoginAttemptScope, count: number, except?: string): Promise<void> {
    await this.db.query(`DELETE FROM login_attempts WHERE scope = $1 AND key IN
      (SELECT key FROM login_attempts WHERE scope = $1 AND key IS DISTINCT FROM $2::text GROUP BY key ORDER BY max(id) LIMIT $3)`,
    [scope, except ?? null, count]);
  }
}
