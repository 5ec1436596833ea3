import type { RefreshTokensStore, StoredRefreshToken } from '../accounts-store.js';
import type { Db } from './postgres-db.js';

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
 * whose advisory lock (postgres-relay-store.ts) is taken before `find` reads: of two relays
 * rotating one token, the second reads it only once the first has committed. markUsed is a
 * conditional UPDATE besides, so even outside a unit of work a token is spent once.
 */
export class PostgresRefreshTokens implements RefreshTokensStore {
  constructor(private readonly db: Db) {}

  async find(tokenHash: string): Promise<StoredRefreshToken | undefined> {
    const { rows } = await this.db.query<TokenRow>(
      `SELECT r.token_hash, r.session_id, r.expires_at, r.used_at, r.replaced_by, s.user_id, s.revoked_at AS session_revoked_at
       FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1`,
      [tokenHash],
    );
    const row = rows[0];
    return row && {
      tokenHash: row.token_hash, sessionId: row.session_id, userId: row.user_id, expiresAt: row.expires_at,
      usedAt: row.used_at, replacedBy: row.replaced_by, sessionRevokedAt: row.session_revoked_at,
    };
  }

  async sessionExpiry(sessionId: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ expires_at: string }>('SELECT expires_at FROM sessions WHERE id = $1', [sessionId]);
    return rows[0]?.expires_at;
  }

  async insert(token: { tokenHash: string; sessionId: string; issuedAt: string; expiresAt: string }): Promise<void> {
    await this.db.query('INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)',
      [token.tokenHash, token.sessionId, token.issuedAt, token.expiresAt]);
  }

  async markUsed(tokenHash: string, at: string): Promise<boolean> {
    const { rowCount } = await this.db.query('UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL', [at, tokenHash]);
    return rowCount === 1;
  }

  async setReplacedBy(tokenHash: string, successorHash: string): Promise<void> {
    await this.db.query('UPDATE refresh_tokens SET replaced_by = $1 WHERE token_hash = $2', [successorHash, tokenHash]);
  }

  async deleteExpired(at: string): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM refresh_tokens WHERE expires_at <= $1', [at]);
    return rowCount ?? 0;
  }
}
