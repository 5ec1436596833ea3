import type { JWK } from 'jose';
import type { Role } from '../auth/roles.js';

/**
 * The relay's accounts: users, their sessions (sign-ins) and refresh tokens, the login attempts the
 * rate limiter counts, and the JWT signing key. Every relay sharing the store sees the same state,
 * so a session revoked on one relay is refused by all of them and the attempts are counted once.
 */

export interface UserRecord {
  id: number;
  username: string;
  role: Role;
  passwordHash: string;
  disabled: boolean;
  totpSecret: string | null;
  totpLastStep: number | null;
  createdAt: string;
}

/** The name is taken (names compare without case). */
export class UserExistsError extends Error {}

export interface UsersStore {
  /** Throws UserExistsError when the name is taken. */
  create(username: string, role: Role, passwordHash: string): Promise<UserRecord>;
  findById(id: number): Promise<UserRecord | undefined>;
  /** Without regard to case. */
  findByUsername(username: string): Promise<UserRecord | undefined>;
  /** Ordered by name. */
  list(): Promise<UserRecord[]>;
  setPasswordHash(id: number, passwordHash: string): Promise<void>;
  setDisabled(id: number, disabled: boolean): Promise<void>;
  /** Enrols (or, with null, removes) a TOTP secret; the last step used is forgotten with the old one. */
  setTotpSecret(id: number, secret: string | null): Promise<void>;
  /**
   * Records the TOTP time step just used, only if it is newer than the last one: false means the
   * code was already used (RFC 6238 §5.2: a verifier must not accept the same OTP twice).
   */
  claimTotpStep(id: number, step: number): Promise<boolean>;
}

/**
 * A session is one sign-in: the family of refresh tokens rotated from it. Revoking it ends every
 * refresh token and, through the request guards, every access token issued in it.
 */
export interface SessionsStore {
  /** Returns the new session's id. */
  create(userId: number, expiresAt: Date): Promise<string>;
  /** Active: not revoked, not expired, and its user exists and is enabled. */
  isActive(sessionId: string, userId: number): Promise<boolean>;
  /** Revoking an ended session keeps its first reason. */
  revoke(sessionId: string, reason: string): Promise<void>;
  revokeAllForUser(userId: number, reason: string): Promise<void>;
}

/** A refresh token as stored: by its SHA-256 only, with its session (family) and that session's state. */
export interface StoredRefreshToken {
  tokenHash: string;
  sessionId: string;
  userId: number;
  expiresAt: string;
  /** When it was first rotated (spent); null while unused. */
  usedAt: string | null;
  /** The hash of the successor issued at its latest rotation. */
  replacedBy: string | null;
  sessionRevokedAt: string | null;
}

/**
 * Storage for refresh-token rotation (RFC 9700 §4.14.2). The rules live in
 * auth/refresh-token-service.ts; they run inside RelayStore.withTransaction, where `find` reads the
 * token so that no concurrent rotation, from this relay or another, can spend it meanwhile (SQLite:
 * the transaction holds the database's write lock from its start).
 */
export interface RefreshTokensStore {
  find(tokenHash: string): Promise<StoredRefreshToken | undefined>;
  /** The session's absolute expiry, which its refresh tokens share; undefined for an unknown session. */
  sessionExpiry(sessionId: string): Promise<string | undefined>;
  insert(token: { tokenHash: string; sessionId: string; issuedAt: string; expiresAt: string }): Promise<void>;
  /** Marks an unused token spent; false when it was already spent (or does not exist). */
  markUsed(tokenHash: string, at: string): Promise<boolean>;
  setReplacedBy(tokenHash: string, successorHash: string): Promise<void>;
  /** Deletes tokens that expired at or before `at`; returns how many. */
  deleteExpired(at: string): Promise<number>;
}

/** What the login rate limiter counts: failures per user name, attempts per client address. */
export type LoginAttemptScope = 'user' | 'address';

/**
 * Timestamps (ms since the epoch) of recent login attempts per key, shared by every relay so that
 * N relays enforce one limit. The decisions are auth/login-rate-limiter.ts's; it calls these inside
 * one transaction per login, so parallel attempts cannot all pass the check at once.
 */
export interface LoginAttemptsStore {
  /** The key's attempts after `afterMs`, oldest first. */
  timesAfter(scope: LoginAttemptScope, key: string, afterMs: number): Promise<number[]>;
  /** Records an attempt, then keeps only the key's newest `keep` (older ones cannot change a decision). */
  add(scope: LoginAttemptScope, key: string, atMs: number, keep: number): Promise<void>;
  /** Forgets the key's newest attempt (one counted provisionally that was no failure). */
  removeNewest(scope: LoginAttemptScope, key: string): Promise<void>;
  clear(scope: LoginAttemptScope, key: string): Promise<void>;
  /** Forgets every attempt at or before `cutoffMs`: they have left every window. */
  pruneUpTo(scope: LoginAttemptScope, cutoffMs: number): Promise<void>;
  /** How many keys have attempts remembered, not counting `except`. */
  keyCount(scope: LoginAttemptScope, except?: string): Promise<number>;
  /** Forgets every attempt of the `count` keys least recently added to, never `except`. */
  forgetLeastRecent(scope: LoginAttemptScope, count: number, except?: string): Promise<void>;
}

/** A JWT signing key kept in the store (the private JWK: the relays' alone). */
export interface StoredSigningKey {
  id: number;
  jwk: JWK;
  createdAt: string;
  /** When a newer key took over signing. */
  retiredAt?: string;
  /** Until when a retired key verifies, when the rotation said (else: its retirement plus the longest a token lives). */
  verifyUntil?: string;
}

/**
 * The JWT signing keys, shared by every relay so each verifies what another signed: the newest key
 * not retired signs; a rotation retires the others, which go on verifying the tokens they signed
 * until those have expired.
 */
export interface SigningKeysStore {
  /**
   * The keys that verify at `now`, newest first: not retired; retired with a verifyUntil later than
   * now; or retired after `retiredSince` without one (tokens it signed may still be alive).
   */
  usable(now: string, retiredSince: string): Promise<StoredSigningKey[]>;
  /** Every key kept, newest first. */
  all(): Promise<StoredSigningKey[]>;
  /** Stores `jwk` unless some key is kept: of relays starting together, the first one's key is everyone's. Answers whether it stored it. */
  addFirst(jwk: JWK): Promise<boolean>;
  /**
   * Stores `jwk` as the newest key (it signs from now on) and retires every key not yet retired,
   * verifying until `verifyUntil` when given (a leaked key: now), else as long as tokens live.
   */
  rotate(jwk: JWK, verifyUntil?: string): Promise<void>;
  /** Deletes the retired keys that no longer verify: verifyUntil at or before `now`, or none and retired at or before `retiredBefore`. Answers how many. */
  prune(now: string, retiredBefore: string): Promise<number>;
}

/** The accounts stores, as RelayStore and a transaction offer them. */
export interface AccountsStores {
  users: UsersStore;
  sessions: SessionsStore;
  refreshTokens: RefreshTokensStore;
  loginAttempts: LoginAttemptsStore;
  signingKeys: SigningKeysStore;
}
