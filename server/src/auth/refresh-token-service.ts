import { createHash, randomBytes } from 'node:crypto';
import type { RefreshTokensStore, StoredRefreshToken } from '../store/accounts-store.js';
import type { RelayStore, TransactionStores } from '../store/relay-store.js';

/**
 * Refresh tokens are opaque random strings, not JWTs, so nothing that verifies an access token can
 * mistake one for it. The store holds only their SHA-256: a copy of the database lets nobody refresh.
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

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class RefreshTokenService {
  constructor(
    private readonly store: RelayStore,
    private readonly now: () => Date = () => new Date(),
    private readonly reuseGraceMs = 0,
  ) {}

  /** A new refresh token for the session; it lives as long as the session does (absolute lifetime). */
  async issue(sessionId: string): Promise<{ token: string; expiresAt: Date }> {
    const expiresAt = await this.store.refreshTokens.sessionExpiry(sessionId);
    if (expiresAt === undefined) throw new Error(`session ${sessionId} does not exist`);
    return this.insert(this.store.refreshTokens, sessionId, expiresAt);
  }

  /**
   * Spends `token` and returns its successor, as one unit of work: the store serializes it against
   * every other rotation (SQLite's BEGIN IMMEDIATE takes the write lock before the token is read),
   * so of two refreshes with the same token, in this relay or another sharing the store, the second
   * sees what the first did. A reuse revokes the session and commits that, then refuses.
   */
  async rotate(token: string): Promise<RotationResult> {
    if (!token.startsWith(REFRESH_TOKEN_PREFIX)) return { ok: false, reason: 'unknown' };
    return this.store.withTransaction(async (tx): Promise<RotationResult> => {
      const row = await tx.refreshTokens.find(hashRefreshToken(token));
      if (!row) return { ok: false, reason: 'unknown' };
      const ids = { sessionId: row.sessionId, userId: row.userId };
      const replayed = row.usedAt !== null;
      if (replayed && !(await this.answerWasLost(tx, row))) {
        await tx.sessions.revoke(row.sessionId, 'refresh-token-reuse'); // no-op when already revoked
        return { ok: false, reason: 'reused', ...ids };
      }
      if (row.sessionRevokedAt !== null) return { ok: false, reason: 'revoked', ...ids };
      if (new Date(row.expiresAt) <= this.now()) return { ok: false, reason: 'expired', ...ids };
      // Replayed: the successor nobody has presented is spent, so presenting it later is a fork, caught as reuse.
      // used_at of the token itself stays its first rotation's time: the grace is counted from it, never extended.
      const spent = replayed ? row.replacedBy! : row.tokenHash;
      if (!(await tx.refreshTokens.markUsed(spent, this.now().toISOString()))) {
        throw new Error('refresh token changed inside its own transaction'); // cannot happen: the transaction is serialized
      }
      const next = await this.insert(tx.refreshTokens, row.sessionId, row.expiresAt);
      await tx.refreshTokens.setReplacedBy(row.tokenHash, hashRefreshToken(next.token));
      return { ok: true, ...next, ...ids, replayed };
    });
  }

  /** The session a token (used or not) belongs to, for logout. Undefined for a token never issued. */
  async sessionOf(token: string): Promise<{ sessionId: string; userId: number } | undefined> {
    if (!token.startsWith(REFRESH_TOKEN_PREFIX)) return undefined;
    const row = await this.store.refreshTokens.find(hashRefreshToken(token));
    return row && { sessionId: row.sessionId, userId: row.userId };
  }

  /** Forgets tokens whose session has expired: reuse of them can no longer matter. */
  pruneExpired(): Promise<number> {
    return this.store.refreshTokens.deleteExpired(this.now().toISOString());
  }

  /** A spent token whose successor was never presented, within the grace of its rotation. */
  private async answerWasLost(tx: TransactionStores, row: StoredRefreshToken): Promise<boolean> {
    if (row.usedAt === null || row.replacedBy === null) return false;
    if (this.now().getTime() - Date.parse(row.usedAt) >= this.reuseGraceMs) return false;
    const successor = await tx.refreshTokens.find(row.replacedBy);
    return successor !== undefined && successor.usedAt === null;
  }

  private async insert(tokens: RefreshTokensStore, sessionId: string, expiresAtIso: string): Promise<{ token: string; expiresAt: Date }> {
    const token = REFRESH_TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
    await tokens.insert({ tokenHash: hashRefreshToken(token), sessionId, issuedAt: this.now().toISOString(), expiresAt: expiresAtIso });
    return { token, expiresAt: new Date(expiresAtIso) };
  }
}
