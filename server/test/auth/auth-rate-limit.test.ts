import { afterEach, describe, expect, it } from 'vitest';
import { PASSWORD, startTestRelay, type TestRelay } from '../support/test-relay.js';

describe('login rate limits', () => {
  let relay: TestRelay;
  afterEach(async () => {
    await relay.close();
  });

  it('locks a user name after too many failures, even for the right password, until the window passes', async () => {
    relay = await startTestRelay({ auth: { maxFailuresPerUser: 3, maxAttemptsPerAddress: 100, rateLimitWindowSeconds: 60 } });
    await relay.addUser('alice', 'radiographer');
    await relay.addUser('bob', 'radiographer');
    for (let i = 0; i < 3; i++) {
      expect((await relay.post('/auth/login', { username: 'alice', password: `wrong password ${i}` })).status).toBe(401);
      relay.advance(5);
    }
    const locked = await relay.post('/auth/login', { username: 'Alice', password: PASSWORD });
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('45');
    expect(await locked.json()).toMatchObject({ error: { code: 'AUTH_RATE_LIMITED', retryAfterSeconds: 45 } });
    // Another account from the same address is unaffected.
    expect((await relay.post('/auth/login', { username: 'bob', password: PASSWORD })).status).toBe(200);
    relay.advance(45);
    expect((await relay.post('/auth/login', { username: 'alice', password: PASSWORD })).status).toBe(200);
  });

  it('clears the failures of a user name once it signs in', async () => {
    relay = await startTestRelay({ auth: { maxFailuresPerUser: 3, rateLimitWindowSeconds: 60 } });
    await relay.addUser('alice', 'radiographer');
    await relay.post('/auth/login', { username: 'alice', password: 'wrong password' });
    await relay.post('/auth/login', { username: 'alice', password: 'wrong password' });
    await relay.login('alice');
    await relay.post('/auth/login', { username: 'alice', password: 'wrong password' });
    await relay.post('/auth/login', { username: 'alice', password: 'wrong password' });
    expect((await relay.post('/auth/login', { username: 'alice', password: PASSWORD })).status).toBe(200);
  });

  it('limits attempts per address across user names, successes included', async () => {
    relay = await startTestRelay({ auth: { maxFailuresPerUser: 100, maxAttemptsPerAddress: 4, rateLimitWindowSeconds: 120 } });
    await relay.addUser('alice', 'radiographer');
    await relay.login('alice');
    for (const name of ['bob', 'carol', 'dave']) {
      expect((await relay.post('/auth/login', { username: name, password: PASSWORD })).status).toBe(401);
    }
    const limited = await relay.post('/auth/login', { username: 'alice', password: PASSWORD });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('120');
    const metrics = await (await fetch(`${relay.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/relaypacs_logins_total\{outcome="rate_limited"\} 1/);
    relay.advance(120);
    expect((await relay.post('/auth/login', { username: 'alice', password: PASSWORD })).status).toBe(200);
  });

  it('holds the per-user limit against a parallel burst of guesses', async () => {
    relay = await startTestRelay({ auth: { maxFailuresPerUser: 3, maxAttemptsPerAddress: 100 } });
    await relay.addUser('alice', 'radiographer');
    const statuses = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      relay.post('/auth/login', { username: 'alice', password: `guess number ${i}` }).then((r) => r.status)));
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
  });
});
