import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LoginRateLimiter } from '../../src/auth/login-rate-limiter.js';
import { openTempSqliteStore, type TempSqliteStore } from '../store/sqlite-temp-store.js';

function clock(start = Date.parse('2030-01-01T00:00:00Z')) {
  let ms = start;
  return { now: () => new Date(ms), advance: (seconds: number) => { ms += seconds * 1000; } };
}

let temp: TempSqliteStore;

function limiter(c: ReturnType<typeof clock>, overrides: Partial<ConstructorParameters<typeof LoginRateLimiter>[0]> = {}) {
  return new LoginRateLimiter({ store: temp.store, maxFailuresPerUser: 3, maxAttemptsPerAddress: 10, windowSeconds: 60, now: c.now, ...overrides });
}

describe('LoginRateLimiter', () => {
  beforeEach(async () => {
    temp = await openTempSqliteStore();
  });
  afterEach(async () => {
    await temp.dispose();
  });

  it('locks a user name after the allowed failures, until the oldest leaves the window', async () => {
    const c = clock();
    const l = limiter(c);
    expect(await l.admit('alice', '10.0.0.1')).toEqual({ allowed: true });
    c.advance(10);
    expect(await l.admit('alice', '10.0.0.2')).toEqual({ allowed: true });
    expect(await l.admit('ALICE', '10.0.0.3')).toEqual({ allowed: true }); // names compare without case
    expect(await l.admit('alice', '10.0.0.4')).toEqual({ allowed: false, scope: 'user', retryAfterSeconds: 50 });
    expect(await l.admit('bob', '10.0.0.4')).toEqual({ allowed: true }); // other names are unaffected
    c.advance(49);
    expect(await l.admit('alice', '10.0.0.4')).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    c.advance(1);
    expect(await l.admit('alice', '10.0.0.4')).toEqual({ allowed: true }); // the first failure left the window
    expect(await l.admit('alice', '10.0.0.4')).toMatchObject({ allowed: false, scope: 'user' }); // the other two are still in it
  });

  it('clears a user name\'s failures on success, and forgives an attempt that was no failure', async () => {
    const c = clock();
    const l = limiter(c);
    await l.admit('alice', 'a');
    await l.admit('alice', 'a');
    await l.succeeded('alice');
    await l.admit('alice', 'a');
    await l.admit('alice', 'a');
    await l.forgive('alice'); // e.g. right password, code still to come: one failure counts
    expect(await l.admit('alice', 'a')).toEqual({ allowed: true });
    expect(await l.admit('alice', 'a')).toEqual({ allowed: true });
    expect(await l.admit('alice', 'a')).toMatchObject({ allowed: false, scope: 'user' });
  });

  it('limits attempts per address whatever the user names', async () => {
    const c = clock();
    const l = limiter(c, { maxAttemptsPerAddress: 4 });
    for (let i = 0; i < 4; i++) expect(await l.admit(`user${i}`, '192.0.2.7')).toEqual({ allowed: true });
    expect(await l.admit('user9', '192.0.2.7')).toEqual({ allowed: false, scope: 'address', retryAfterSeconds: 60 });
    expect(await l.admit('user9', '192.0.2.8')).toEqual({ allowed: true });
  });

  it('does not count refused attempts, so waiting out Retry-After works', async () => {
    const c = clock();
    const l = limiter(c, { maxAttemptsPerAddress: 2 });
    await l.admit('a', 'x');
    await l.admit('b', 'x');
    for (let i = 0; i < 20; i++) {
      c.advance(1);
      expect((await l.admit('c', 'x')).allowed).toBe(false);
    }
    c.advance(40);
    expect(await l.admit('c', 'x')).toEqual({ allowed: true });
  });

  it('keeps memory bounded under a flood of made-up names', async () => {
    const c = clock();
    const l = limiter(c, { maxTrackedKeys: 100, maxAttemptsPerAddress: 1_000_000 });
    for (let i = 0; i < 5_000; i++) await l.admit(`nobody-${i}`, `198.51.100.${i % 7}`);
    expect((await l.trackedKeys()).users).toBeLessThanOrEqual(100);
    expect((await l.trackedKeys()).addresses).toBe(7);
  });

  it('evicts the least recently active names first, so a name under attack keeps its count', async () => {
    const c = clock();
    const l = limiter(c, { maxTrackedKeys: 3 });
    await l.admit('old1', 'x');
    await l.admit('old2', 'x');
    c.advance(10);
    await l.admit('target', 'x');
    await l.admit('target', 'x');
    c.advance(10);
    await l.admit('new1', 'y'); // full: old1 goes
    expect((await l.trackedKeys()).users).toBe(3);
    expect(await l.admit('target', 'z')).toEqual({ allowed: true });
    expect(await l.admit('target', 'z')).toMatchObject({ allowed: false, scope: 'user' });
    expect(await l.admit('old2', 'z')).toMatchObject({ allowed: true }); // still tracked, one failure of three
    expect(await l.admit('old2', 'z')).toMatchObject({ allowed: true });
    expect(await l.admit('old2', 'z')).toMatchObject({ allowed: false }); // it kept its first failure
  });
});
