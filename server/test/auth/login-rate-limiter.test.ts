import { describe, expect, it } from 'vitest';
import { LoginRateLimiter } from '../../src/auth/login-rate-limiter.js';

function clock(start = Date.parse('2030-01-01T00:00:00Z')) {
  let ms = start;
  return { now: () => new Date(ms), advance: (seconds: number) => { ms += seconds * 1000; } };
}

function limiter(c: ReturnType<typeof clock>, overrides: Partial<ConstructorParameters<typeof LoginRateLimiter>[0]> = {}) {
  return new LoginRateLimiter({ maxFailuresPerUser: 3, maxAttemptsPerAddress: 10, windowSeconds: 60, now: c.now, ...overrides });
}

describe('LoginRateLimiter', () => {
  it('locks a user name after the allowed failures, until the oldest leaves the window', () => {
    const c = clock();
    const l = limiter(c);
    expect(l.admit('alice', '10.0.0.1')).toEqual({ allowed: true });
    c.advance(10);
    expect(l.admit('alice', '10.0.0.2')).toEqual({ allowed: true });
    expect(l.admit('ALICE', '10.0.0.3')).toEqual({ allowed: true }); // names compare without case
    expect(l.admit('alice', '10.0.0.4')).toEqual({ allowed: false, scope: 'user', retryAfterSeconds: 50 });
    expect(l.admit('bob', '10.0.0.4')).toEqual({ allowed: true }); // other names are unaffected
    c.advance(49);
    expect(l.admit('alice', '10.0.0.4')).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    c.advance(1);
    expect(l.admit('alice', '10.0.0.4')).toEqual({ allowed: true }); // the first failure left the window
    expect(l.admit('alice', '10.0.0.4')).toMatchObject({ allowed: false, scope: 'user' }); // the other two are still in it
  });

  it('clears a user name\'s failures on success, and forgives an attempt that was no failure', () => {
    const c = clock();
    const l = limiter(c);
    l.admit('alice', 'a');
    l.admit('alice', 'a');
    l.succeeded('alice');
    l.admit('alice', 'a');
    l.admit('alice', 'a');
    l.forgive('alice'); // e.g. right password, code still to come: one failure counts
    expect(l.admit('alice', 'a')).toEqual({ allowed: true });
    expect(l.admit('alice', 'a')).toEqual({ allowed: true });
    expect(l.admit('alice', 'a')).toMatchObject({ allowed: false, scope: 'user' });
  });

  it('limits attempts per address whatever the user names', () => {
    const c = clock();
    const l = limiter(c, { maxAttemptsPerAddress: 4 });
    for (let i = 0; i < 4; i++) expect(l.admit(`user${i}`, '192.0.2.7')).toEqual({ allowed: true });
    expect(l.admit('user9', '192.0.2.7')).toEqual({ allowed: false, scope: 'address', retryAfterSeconds: 60 });
    expect(l.admit('user9', '192.0.2.8')).toEqual({ allowed: true });
  });

  it('does not count refused attempts, so waiting out Retry-After works', () => {
    const c = clock();
    const l = limiter(c, { maxAttemptsPerAddress: 2 });
    l.admit('a', 'x');
    l.admit('b', 'x');
    for (let i = 0; i < 20; i++) {
      c.advance(1);
      expect(l.admit('c', 'x').allowed).toBe(false);
    }
    c.advance(40);
    expect(l.admit('c', 'x')).toEqual({ allowed: true });
  });

  it('keeps memory bounded under a flood of made-up names', () => {
    const c = clock();
    const l = limiter(c, { maxTrackedKeys: 100, maxAttemptsPerAddress: 1_000_000 });
    for (let i = 0; i < 5_000; i++) l.admit(`nobody-${i}`, `198.51.100.${i % 7}`);
    expect(l.trackedKeys.users).toBeLessThanOrEqual(100);
    expect(l.trackedKeys.addresses).toBe(7);
  });

  it('evicts the least recently active names first, so a name under attack keeps its count', () => {
    const c = clock();
    const l = limiter(c, { maxTrackedKeys: 3 });
    l.admit('old1', 'x');
    l.admit('old2', 'x');
    c.advance(10);
    l.admit('target', 'x');
    l.admit('target', 'x');
    c.advance(10);
    l.admit('new1', 'y'); // full: old1 goes
    expect(l.trackedKeys.users).toBe(3);
    expect(l.admit('target', 'z')).toEqual({ allowed: true });
    expect(l.admit('target', 'z')).toMatchObject({ allowed: false, scope: 'user' });
    expect(l.admit('old2', 'z')).toMatchObject({ allowed: true }); // still tracked, one failure of three
    expect(l.admit('old2', 'z')).toMatchObject({ allowed: true });
    expect(l.admit('old2', 'z')).toMatchObject({ allowed: false }); // it kept its first failure
  });
});
