import type { RelayDatabase } from './database.js';
import type { LoginAttemptScope } from '../accounts-store.js';

/**
 * LoginAttemptsStore's SQL: one row per attempt (migration 7). Row ids grow with every insert, so
 * "newest" and "least recently added to" are by id, as they were by insertion order in memory.
 */
export class SqliteLoginAttempts {
  constructor(private readonly db: RelayDatabase) {}

  timesAfter(scope: LoginAttemptScope, key: string, afterMs: number): number[] {
    return (this.db.prepare('SELECT at_ms FROM login_attempts WHERE scope = ? AND key = ? AND at_ms > ? ORDER BY id')
      .all(scope, key, afterMs) as { at_ms: number }[]).map((row) => row.at_ms);
  }

  add(scope: LoginAttemptScope, key: string, atMs: number, keep: number): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO login_attempts (scope, key, at_ms) VALUES (?, ?, ?)').run(scope, key, atMs);
      this.db.prepare(`DELETE FROM login_attempts WHERE scope = ? AND key = ? AND id NOT IN
        (SELECT id FROM login_attempts WHERE scope = ? AND key = ? ORDER BY id DESC LIMIT ?)`).run(scope, key, scope, key, keep);
    }).immediate();
  }

  removeNewest(scope: LoginAttemptScope, key: string): void {
    this.db.prepare('DELETE FROM login_attempts WHERE id = (SELECT MAX(id) FROM login_attempts WHERE scope = ? AND key = ?)').run(scope, key);
  }

  clear(scope: LoginAttemptScope, key: string): void {
    this.db.prepare('DELETE FROM login_attempts WHERE scope = ? AND key = ?').run(scope, key);
  }

  pruneUpTo(scope: LoginAttemptScope, cutoffMs: number): void {
    this.db.prepare('DELETE FROM login_attempts WHERE scope = ? AND at_ms <= ?').run(scope, cutoffMs);
  }

  keyCount(scope: LoginAttemptScope, except?: string): number {
    return (this.db.prepare('SELECT COUNT(DISTINCT key) AS n FROM login_attempts WHERE scope = ? AND key IS NOT ?')
      .get(scope, except ?? null) as { n: number }).n;
  }

  forgetLeastRecent(scope: LoginAttemptScope, count: number, except?: string): void {
    this.db.prepare(`DELETE FROM login_attempts WHERE scope = ? AND key IN
      (SELECT key FROM login_attempts WHERE scope = ? AND key IS NOT ? GROUP BY key ORDER BY MAX(id) LIMIT ?)`)
      .run(scope, scope, except ?? null, count);
  }
}
