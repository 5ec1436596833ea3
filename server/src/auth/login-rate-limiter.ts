import type { LoginAttemptScope, LoginAttemptsStore } from '../store/accounts-store.js';
import type { RelayStore } from '../store/relay-store.js';

/**
 * Slows down password guessing: a user name is locked for the rest of the window after
 * `maxFailuresPerUser` failures, and a client address may try `maxAttemptsPerAddress` logins per
 * window whatever their outcome. Sliding windows, kept in the relay's store: every relay sharing
 * it counts the same attempts, so N relays behind a load balancer allow no more than one would.
 *
 * A failure is counted *before* the password is checked and forgiven afterwards if it turns out not
 * to be one, so a burst of parallel guesses cannot all slip past the check while Argon2 runs: the
 * check and the count are one unit of work.
 */
export interface LoginRateLimiterOptions {
  store: RelayStore;
  maxFailuresPerUser: number;
  maxAttemptsPerAddress: number;
  windowSeconds: number;
  now?: () => Date;
  /** Most user names and addresses remembered each; bounds the table under a flood of made-up names. */
  maxTrackedKeys?: number;
}

export type RateLimitDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number; scope: 'user' | 'address' };

const DEFAULT_MAX_TRACKED_KEYS = 10_000;

/** The rules of one sliding window (times in ms); the attempts themselves are the store's. */
class SlidingWindow {
  constructor(
    private readonly scope: LoginAttemptScope,
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxKeys: number,
  ) {}

  /** The key's attempts still in the window, oldest first. */
  recent(attempts: LoginAttemptsStore, key: string, nowMs: number): Promise<number[]> {
    return attempts.timesAfter(this.scope, key, nowMs - this.windowMs);
  }

  /** Milliseconds until a key with these recent attempts may act again, or 0 when it is under its limit. */
  waitMs(recent: number[], nowMs: number): number {
    if (recent.length < this.limit) return 0;
    // The oldest of the newest `limit` attempts leaves the window first.
    return recent[recent.length - this.limit]! + this.windowMs - nowMs;
  }

  /**
   * Counts an attempt. Attempts that left the window are forgotten first; if the key is new and
   * the table still remembers `maxKeys` others, the least recently active ones go, so a name under
   * attack keeps its count while a flood of made-up names costs a bounded table. (A key already
   * remembered adds no key, so the bound holds without counting.)
   */
  async add(attempts: LoginAttemptsStore, key: string, recent: number[], nowMs: number): Promise<void> {
    await attempts.pruneUpTo(this.scope, nowMs - this.windowMs);
    if (recent.length === 0) {
      const others = await attempts.keyCount(this.scope, key);
      if (others >= this.maxKeys) await attempts.forgetLeastRecent(this.scope, others - this.maxKeys + 1, key);
    }
    // Only the newest `limit` matter to the decision; older ones would only cost space.
    await attempts.add(this.scope, key, nowMs, this.limit);
  }
}

export class LoginRateLimiter {
  private readonly store: RelayStore;
  private readonly now: () => Date;
  private readonly userFailures: SlidingWindow;
  private readonly addressAttempts: SlidingWindow;

  constructor(options: LoginRateLimiterOptions) {
    this.store = options.store;
    this.now = options.now ?? (() => new Date());
    const windowMs = options.windowSeconds * 1000;
    const maxKeys = options.maxTrackedKeys ?? DEFAULT_MAX_TRACKED_KEYS;
    this.userFailures = new SlidingWindow('user', options.maxFailuresPerUser, windowMs, maxKeys);
    this.addressAttempts = new SlidingWindow('address', options.maxAttemptsPerAddress, windowMs, maxKeys);
  }

  /**
   * Admits one login attempt or refuses it. An admitted attempt is counted against the address
   * and, provisionally, as a failure of the user name (see `succeeded` and `forgive`). A refused
   * attempt counts for nothing, so waiting out Retry-After always works.
   */
  admit(username: string, address: string): Promise<RateLimitDecision> {
    const nowMs = this.now().getTime();
    const user = userKey(username);
    return this.store.withTransaction(async ({ loginAttempts }): Promise<RateLimitDecision> => {
      const addressRecent = await this.addressAttempts.recent(loginAttempts, address, nowMs);
      const userRecent = await this.userFailures.recent(loginAttempts, user, nowMs);
      const addressWait = this.addressAttempts.waitMs(addressRecent, nowMs);
      const userWait = this.userFailures.waitMs(userRecent, nowMs);
      if (addressWait > 0 || userWait > 0) {
        const scope = addressWait >= userWait ? 'address' : 'user';
        return { allowed: false, scope, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(addressWait, userWait) / 1000)) };
      }
      await this.addressAttempts.add(loginAttempts, address, addressRecent, nowMs);
      await this.userFailures.add(loginAttempts, user, userRecent, nowMs);
      return { allowed: true };
    });
  }

  /** The attempt signed in: the user name's failures are cleared. */
  succeeded(username: string): Promise<void> {
    return this.store.loginAttempts.clear('user', userKey(username));
  }

  /** The attempt was no failure after all (right password, one-time code still to come). */
  forgive(username: string): Promise<void> {
    return this.store.loginAttempts.removeNewest('user', userKey(username));
  }

  /** How many user names and addresses are remembered (for tests of the bound). */
  async trackedKeys(): Promise<{ users: number; addresses: number }> {
    return { users: await this.store.loginAttempts.keyCount('user'), addresses: await this.store.loginAttempts.keyCount('address') };
  }
}

/** User names compare without case in the store (COLLATE NOCASE), so they count alike here. */
function userKey(username: string): string {
  return username.toLowerCase();
}
