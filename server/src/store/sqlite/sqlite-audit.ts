import type { RelayDatabase } from './database.js';
import type { AuditEntry, AuditRow } from '../audit-store.js';

/** AuditStore's SQL. */
export class SqliteAudit {
  constructor(private readonly db: RelayDatabase, private readonly now: () => Date) {}

  record(entry: AuditEntry): void {
    this.db
      .prepare('INSERT INTO audit_log (at, actor_user_id, action, target, address, outcome) VALUES (?, ?, ?, ?, ?, ?)')
      .run(this.now().toISOString(), entry.actorUserId ?? null, entry.action, entry.target ?? null, entry.address ?? null, entry.outcome);
  }

  recordOnce(entry: AuditEntry): boolean {
    // IMMEDIATE: the check and the write hold the write lock together, against other relays too.
    return this.db.transaction(() => {
      const already = this.db.prepare('SELECT 1 FROM audit_log WHERE action = ? AND target IS ? AND outcome = ?')
        .get(entry.action, entry.target ?? null, entry.outcome);
      if (already) return false;
      this.record(entry);
      return true;
    }).immediate();
  }

  since(from: string | undefined, limit = 100_000): AuditRow[] {
    return this.db.prepare('SELECT * FROM audit_log WHERE at >= ? ORDER BY id LIMIT ?').all(from ?? '', limit) as AuditRow[];
  }

  recent(limit = 100): AuditRow[] {
    return this.db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?').all(limit) as AuditRow[];
  }
}
