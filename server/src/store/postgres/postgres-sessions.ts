import { randomUUID } from 'node:crypto';
import type { SessionsStore } from '../accounts-store.js';
import type { Db } from './postgres-db.js';

/** SessionsStore's SQL. Expiry is judged against the store's clock, as SQLite's is. */
export class PostgresSessions implements SessionsStore {
  constructor(private readonly db: Db, private readonly now: () => Date) {}

  async create(userId: number, expiresAt: Date): Promise<string> {
    const id = randomUUID();
    await this.db.query('INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)',
      [id, userId, this.now().toISOString(), expiresAt.toISOString()]);
    return id;
  }

  async isActive(sessionId: string, userId: number): Promise<boolean> {
    const { rows } = await this.db.query<{ revoked_at: string | null; expires_at: string; disabled: boolean }>(
      'SELECT s.revoked_at, s.expires_at, u.disabled FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.user_id = $2',
      [sessionId, userId],
    );
    const row = rows[0];
    return row !== undefined && row.revoked_at === null && !row.disabled && new Date(row.expires_at) > this.now();
  }

  async revoke(sessionId: string, reason: string): Promise<void> {
    await this.db.query('UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL',
      [this.now().toISOString(), reason, sessionId]);
  }

  async revokeAllForUser(userId: number, reason: string): Promise<void> {
    await this.db.query('UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL',
      [this.now().toISOString(), reason, userId]);
  }
}
