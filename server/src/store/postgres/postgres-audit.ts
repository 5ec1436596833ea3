import type { AuditEntry, AuditRow, AuditStore } from '../audit-store.js';
import { AUDIT_ONCE_NAMESPACE, type Db } from './postgres-db.js';

/** Named, never `*` (prepared statements: postgres-users.ts says why). */
const AUDIT_COLUMNS = 'id, at, actor_user_id, action, target, address, outcome';

/** AuditStore's SQL. */
export class PostgresAudit implements AuditStore {
  constructor(private readonly db: Db, private readonly now: () => Date) {}

  async record(entry: AuditEntry): Promise<void> {
    await insert(this.db, this.now(), entry);
  }

  async recordOnce(entry: AuditEntry): Promise<boolean> {
    // Check and write in one transaction holding a lock on this (action, target, outcome), so
    // relays finishing the same delivery at once write one row. READ COMMITTED alone would let
    // both see no row; the lock makes the second wait, and its SELECT, a new statement, sees the
    // first's row once it has committed.
    return this.db.atomic(async (db) => {
      await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [AUDIT_ONCE_NAMESPACE, JSON.stringify([entry.action, entry.target ?? null, entry.outcome])]);
      const { rowCount } = await db.query('SELECT 1 FROM audit_log WHERE action = $1 AND target IS NOT DISTINCT FROM $2::text AND outcome = $3 LIMIT 1',
        [entry.action, entry.target ?? null, entry.outcome]);
      if (rowCount !== 0) return false;
      await insert(db, this.now(), entry);
      return true;
    });
  }

  async since(from: string | undefined, limit = 100_000): Promise<AuditRow[]> {
    const { rows } = await this.db.query<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE $1::timestamptz IS NULL OR at >= $1 ORDER BY id LIMIT $2`, [from ?? null, limit]);
    return rows;
  }

  async recent(limit = 100): Promise<AuditRow[]> {
    const { rows } = await this.db.query<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_log ORDER BY id DESC LIMIT $1`, [limit]);
    return rows;
  }
}

async function insert(db: Db, at: Date, entry: AuditEntry): Promise<void> {
  await db.query('INSERT INTO audit_log (at, actor_user_id, action, target, address, outcome) VALUES ($1, $2, $3, $4, $5, $6)',
    [at.toISOString(), entry.actorUserId ?? null, entry.action, entry.target ?? null, entry.address ?? null, entry.outcome]);
}
