/**
 * Slows down password guessing: a user name is locked for the rest of the window after
 * `maxFailuresPerUser` failures, and a client address may try `maxAttemptsPerAddress` logins per
 * window whatever their outcome. Sliding windows, kept in memory: a restart forgets them, which
 * costs an attacker a restart they cannot cause.
 *
 * A failure is counted *before* the password is checked and forgiven afterwards if it turns out not
 * to be one, so a burst of parallel guesses cannot all slip past the check while Argon2 runs.
 */
export interface LoginRateLimiterOptions {
  maxFailuresPerUser: number;
  maxAttemptsPerAddress: number;
  windowSeconds: number;
  now?: () => Date;
  /** Most user names and addresses remembered each; bounds memory under a flood of made-up names. */
  maxTrackedKeys?: number;
}

export type RateLimitDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number; scope: 'user' | 'address' };

const DEFAULT_MAX_TRACKED_KEYS = 10_000;

/** Timestamps (ms) of recent events per key, oldest first, never more than `limit` of them. */
class SlidingWindow {
  private readonly events = new Map<string, number[]>();

  constructor(private readonly limit: number, private readonly windowMs: number, private readonly maxKeys: number) {}

  /** Milliseconds until the key may act again, or 0 when it is under its limit. */
  waitMs(key: string, nowMs: number): number {
    const recent = this.recent(key, nowMs);
    if (recent.length < this.limit) return 0;
    return recent[0]! + this.windowMs - nowMs;
  }

  add(key: string, nowMs: number): void {
    const recent = this.recent(key, nowMs);
    recent.push(nowMs);
    // Only the newest `limit` matter to the decision; older ones would only cost memory.
    if (recent.length > this.limit) recent.splice(0, recent.length - this.limit);
    this.events.delete(key); // re-insert so Map order is least recently touched first
    if (this.events.size >= this.maxKeys) this.evict(nowMs);
    this.events.set(key, recent);
  }

  removeNewest(key: string): void {
    const recent = this.events.get(key);
    recent?.pop();
    if (recent?.length === 0) this.events.delete(key);
  }

  clear(key: string): void {
    this.events.delete(key);
  }

  get size(): number {
    return this.events.size;
  }

  private recent(key: string, nowMs: number): number[] {
    const list = this.events.get(key) ?? [];
    const cutoff = nowMs - this.windowMs;
    while (list.length > 0 && list[0]! <= cutoff) list.shift();
    return list;
  }

  /**
   * Map order is least recently added first, which is also oldest last event first: drop keys from
   * the front while their events have all left the window, then, if still full, the least recent
   * one. Amortized constant work, however many keys a flood of made-up names creates.
   */
  private evict(nowMs: number): void {
    const cutoff = nowMs - this.windowMs;
    for (const [key, list] of this.events) {
      const expired = list.length === 0 || list[list.length - 1]! <= cutoff;
      if (!expired && this.events.size < this.maxKeys) break;
      this.events.delete(key);
    }
  }
}

export class LoginRateLimiter {
  private readonly now: () => Date;
  private readonly userFailures: SlidingWindow;
  private readonly addressAttempts: SlidingWindow;

  constructor(options: LoginRateLimiterOptions) {
    this.now = options.now ?? (() => new Date());
    const windowMs = options.windowSeconds * 1000;
    const maxKeys = options.maxTrackedKeys ?? DEFAULT_MAX_TRACKED_KEYS;
    this.userFailures = new SlidingWindow(options.maxFailuresPerUser, windowMs, maxKeys);
    this.addressAttempts = new SlidingWindow(options.maxAttemptsPerAddress, windowMs, maxKeys);
  }

  /**
   * Admits one login attempt or refuses it. An admitted attempt is counted against the address
   * and, provisionally, as a failure of the user name (see `succeeded` and `forgive`). A refused
   * attempt counts for nothing, so waiting out Retry-After always works.
   */
  admit(username: string, address: string): RateLimitDecision {
    const nowMs = this.now().getTime();
    const user = userKey(username);
    const addressWait = this.addressAttempts.waitMs(address, nowMs);
    const userWait = this.userFailures.waitMs(user, nowMs);
    if (addressWait > 0 || userWait > 0) {
      const scope = addressWait >= userWait ? 'address' : 'user';
      return { allowed: false, scope, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(addressWait, userWait) / 1000)) };
    }
    this.addressAttempts.add(address, nowMs);
    this.userFailures.add(user, nowMs);
    return { allowed: true };
  }

  /** The attempt signed in: the user name's failures are cleared. */
  succeeded(username: string): void {
    this.userFailures.clear(userKey(username));
  }

  /** The attempt was no failure after all (right password, one-time code still to come). */
  forgive(username: string): void {
    this.userFailures.removeNewest(userKey(username));
  }

  /** How many user names and addresses are remembered (for tests of the memory bound). */
  get trackedKeys(): { users: number; addresses: number } {
    return { users: this.userFailures.size, addresses: this.addressAttempts.size };
  }
}

/** User names compare without case in the database (COLLATE NOCASE), so they count alike here. */
function userKey(username: string): string {
  return username.toLowerCase();
}
