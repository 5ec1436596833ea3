import type { RelayDatabase } from './database.js';
import type { StoredRefreshToken } from '../accounts-store.js';

interface TokenRow {
  token_hash: string;
  session_id: string;
  expires_at: string;
  used_at: string | null;
  replaced_by: string | null;
  user_id: number;
  session_revoked_at: string | null;
}

/**
 * RefreshTokensStore's SQL. Rotation reads and writes these inside RelayStore.withTransaction,
 * whose BEGIN IMMEDIATE takes the write lock before `find` reads: of two relays (or a relay and the
 * CLI) rotating one token, the second reads it only once the first has committed.
 */
export class SqliteRefreshTokens {
  constructor(private readonly db: RelayDatabase) {}

  find(tokenHash: string): StoredRefreshToken | undefined {
    const row = this.db
      .prepare(`SELECT r.token_hash, r.session_id, r.expires_at, r.used_at, r.replaced_by, s.user_id, s.revoked_at AS session_revoked_at
                FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = ?`)
      .get(tokenHash) as TokenRow | undefined;
    return row && {
      tokenHash: row.token_hash, sessionId: row.session_id, userId: row.user_id, expiresAt: row.expires_at,
      usedAt: row.used_at, replacedBy: row.replaced_by, sessionRevokedAt: row.session_revoked_at,
    };
  }

  sessionExpiry(sessionId: string): string | undefined {
    return (this.db.prepare('SELECT expires_at FROM sessions WHERE id = ?').get(sessionId) as { expires_at: string } | undefined)?.expires_at;
  }

  insert(token: { tokenHash: string; sessionId: string; issuedAt: string; expiresAt: string }): void {
    this.db
      .prepare('INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(token.tokenHash, token.sessionId, token.issuedAt, token.expiresAt);
  }

  markUsed(tokenHash: string, at: string): boolean {
    return this.db.prepare('UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL').run(at, tokenHash).changes === 1;
  }

  setReplacedBy(tokenHash: string, successorHash: string): void {
    this.db.prepare('UPDATE refresh_tokens SET replaced_by = ? WHERE token_hash = ?').run(successorHash, tokenHash);
  }

  deleteExpired(at: string): number {
    return this.db.prepare('DELETE FROM refresh_tokens WHERE expires_at <= ?').run(at).changes;
  }
}
