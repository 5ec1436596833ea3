import { randomUUID } from 'node:crypto';
import type { RelayDatabase } from './database.js';

/** SessionsStore's SQL. */
export class SqliteSessions {
  constructor(private readonly db: RelayDatabase, private readonly now: () => Date) {}

  create(userId: number, expiresAt: Date): string {
    const id = randomUUID();
    this.db
      .prepare('INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(id, userId, this.now().toISOString(), expiresAt.toISOString());
    return id;
  }

  isActive(sessionId: string, userId: number): boolean {
    const row = this.db
      .prepare(`SELECT s.revoked_at, s.expires_at, u.disabled FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.user_id = ?`)
      .get(sessionId, userId) as { revoked_at: string | null; expires_at: string; disabled: number } | undefined;
    return row !== undefined && row.revoked_at === null && row.disabled === 0 && new Date(row.expires_at) > this.now();
  }

  revoke(sessionId: string, reason: string): void {
    this.db
      .prepare('UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL')
      .run(this.now().toISOString(), reason, sessionId);
  }

  revokeAllForUser(userId: number, reason: string): void {
    this.db
      .prepare('UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL')
      .run(this.now().toISOString(), reason, userId);
  }
}
