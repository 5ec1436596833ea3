import { createHash, randomBytes } from 'node:crypto';
import type { RelayDatabase } from '../db/database.js';
import type { SessionStore } from './session-store.js';

/**
 * Refresh tokens are opaque random strings, not JWTs, so nothing that verifies an access token can
 * mistake one for it. The database holds only their SHA-256: a copy of relay.db lets nobody refresh.
 * Each belongs to a session (its family) and is used once; presenting a used one means it was
 * copied, so the whole family is revoked (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).
 *
 * One exception, the grace for a lost answer: a client that sent a refresh and died (or lost the
 * connection) before it stored the answer holds only the spent token. Presented again within
 * `reuseGraceMs` of its rotation, while its successor has never been presented, it rotates again:
 * the unseen successor is spent and a new one issued. A copy used by someone else is still caught,
 * since one of the two forks then presents a spent successor. Authorization servers call this a
 * rotation grace period or reuse interval; 0 turns it off.
 */
export const REFRESH_TOKEN_PREFIX = 'rpr_';
const TOKEN_BYTES = 32;

export type RotationFailure = 'unknown' | 'reused' | 'revoked' | 'expired';

export type RotationResult =
  /** `replayed`: the token was spent already and its answer lost; its unseen successor is spent in turn. */
  | { ok: true; token: string; expiresAt: Date; sessionId: string; userId: number; replayed: boolean }
  | { ok: false; reason: RotationFailure; sessionId?: string; userId?: number };

interface TokenRow {
  session_id: string;
  expires_at: string;
  used_at: string | null;
  replaced_by: string | null;
  user_id: number;
  session_revoked_at: string | null;
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class RefreshTokenStore {
  constructor(
    private readonly db: RelayDatabase,
    private readonly sessions: SessionStore,
    private readonly now: () => Date = () => new Date(),
    private readonly reuseGraceMs = 0,
  ) {}

  /** A new refresh token for the session; it lives as long as the session does (absolute lifetime). */
  issue(sessionId: string): { token: string; expiresAt: Date } {
    const session = this.db.prepare('SELECT expires_at FROM sessions WHERE id = ?').get(sessionId) as { expires_at: string } | undefined;
    if (!session) throw new Error(`session ${sessionId} does not exist`);
    return this.insert(sessionId, session.expires_at);
  }

  /**
   * Spends `token` and returns its successor. Runs as one IMMEDIATE transaction: the write lock is
   * taken before the token is read, so of two refreshes with the same token (in this process or
   * another one sharing the file) exactly one succeeds and the other sees it used.
   */
  rotate(token: string): RotationResult {
    const rotation = this.db.transaction((): RotationResult => {
      const row = this.find(token);
      if (!row) return { ok: false, reason: 'unknown' };
      const ids = { sessionId: row.session_id, userId: row.user_id };
      const replayed = row.used_at !== null;
      if (replayed && !this.answerWasLost(row)) {
        this.sessions.revoke(row.session_id, 'refresh-token-reuse'); // no-op when already revoked
        return { ok: false, reason: 'reused', ...ids };
      }
      if (row.session_revoked_at !== null) return { ok: false, reason: 'revoked', ...ids };
      const nowIso = this.now().toISOString();
      if (new Date(row.expires_at) <= this.now()) return { ok: false, reason: 'expired', ...ids };
      if (replayed) {
        // The successor nobody has presented is spent: presenting it later is a fork, caught as reuse.
        const unseen = this.db.prepare('UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL').run(nowIso, row.replaced_by);
        if (unseen.changes !== 1) throw new Error('refresh token successor changed inside its own transaction'); // cannot happen under the write lock
      } else {
        const spent = this.db.prepare('UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL').run(nowIso, hashRefreshToken(token));
        if (spent.changes !== 1) throw new Error('refresh token changed inside its own transaction'); // cannot happen under the write lock
      }
      // used_at stays the first rotation's time: the grace is counted from it, never extended.
      const next = this.insert(row.session_id, row.expires_at);
      this.db.prepare('UPDATE refresh_tokens SET replaced_by = ? WHERE token_hash = ?').run(hashRefreshToken(next.token), hashRefreshToken(token));
      return { ok: true, ...next, ...ids, replayed };
    });
    return rotation.immediate();
  }

  /** A spent token whose successor was never presented, within the grace of its rotation. */
  private answerWasLost(row: TokenRow): boolean {
    if (row.used_at === null || row.replaced_by === null) return false;
    if (this.now().getTime() - Date.parse(row.used_at) >= this.reuseGraceMs) return false;
    const successor = this.db.prepare('SELECT used_at FROM refresh_tokens WHERE token_hash = ?').get(row.replaced_by) as { used_at: string | null } | undefined;
    return successor !== undefined && successor.used_at === null;
  }

  /** The session a token (used or not) belongs to, for logout. Undefined for a token never issued. */
  sessionOf(token: string): { sessionId: string; userId: number } | undefined {
    const row = this.find(token);
    return row && { sessionId: row.session_id, userId: row.user_id };
  }

  /** Forgets tokens whose session has expired: reuse of them can no longer matter. */
  pruneExpired(): number {
    return this.db.prepare('DELETE FROM refresh_tokens WHERE expires_at <= ?').run(this.now().toISOString()).changes;
  }

  private find(token: string): TokenRow | undefined {
    if (!token.startsWith(REFRESH_TOKEN_PREFIX)) return undefined;
    return this.db
      .prepare(`SELECT r.session_id, r.expires_at, r.used_at, r.replaced_by, s.user_id, s.revoked_at AS session_revoked_at
                FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = ?`)
      .get(hashRefreshToken(token)) as TokenRow | undefined;
  }

  private insert(sessionId: string, expiresAtIso: string): { token: string; expiresAt: Date } {
    const token = REFRESH_TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
    this.db
      .prepare('INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(hashRefreshToken(token), sessionId, this.now().toISOString(), expiresAtIso);
    return { token, expiresAt: new Date(expiresAtIso) };
  }
}
