import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCESS_AUDIENCE } from '../../src/auth/token-service.js';
import { errorCode, PASSWORD, startTestRelay, type TestRelay } from '../support/test-relay.js';

describe('POST /auth/login', () => {
  let relay: TestRelay;

  beforeEach(async () => {
    relay = await startTestRelay();
  });
  afterEach(async () => {
    await relay.close();
  });

  it('signs in with the right password: a short-lived access JWT and an opaque refresh token', async () => {
    const id = await relay.addUser('alice', 'radiographer');
    const response = await relay.post('/auth/login', { username: 'alice', password: PASSWORD });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ tokenType: 'Bearer', user: { id, username: 'alice', role: 'radiographer' } });
    expect(body.refreshToken).toMatch(/^rpr_[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(body.accessTokenExpiresAt as string) - relay.now().getTime()).toBe(600_000);
    expect(Date.parse(body.refreshTokenExpiresAt as string) - relay.now().getTime()).toBe(30 * 24 * 3600_000);
    const [header, payload] = (body.accessToken as string).split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>);
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: String(id), aud: ACCESS_AUDIENCE, role: 'radiographer', name: 'alice' });
    expect(await relay.services.tokens.verifyAccessToken(body.accessToken as string)).toMatchObject({ userId: id, role: 'radiographer' });
  });

  it('matches the user name without case, as the database does', async () => {
    await relay.addUser('alice', 'clinician');
    expect((await relay.login('ALICE')).user.username).toBe('alice');
  });

  it('refuses a wrong password, an unknown user and a disabled user alike', async () => {
    await relay.addUser('alice', 'radiographer');
    await relay.addUser('dora', 'radiographer', { disabled: true });
    const attempts = [
      { username: 'alice', password: 'not the password' },
      { username: 'nobody', password: PASSWORD },
      { username: 'dora', password: PASSWORD },
    ];
    const bodies = [];
    for (const attempt of attempts) {
      const response = await relay.post('/auth/login', attempt);
      expect(response.status).toBe(401);
      bodies.push(await response.json());
    }
    expect(bodies).toEqual(Array(3).fill({ error: { code: 'AUTH_INVALID_CREDENTIALS', message: 'The user name, password or one-time code is not right.' } }));
  });

  it('rejects malformed bodies before trying anything', async () => {
    expect(await errorCode(await relay.post('/auth/login', { username: 'alice' }))).toBe('BAD_REQUEST');
    expect(await errorCode(await relay.post('/auth/login', { username: 'alice', password: PASSWORD, totp: '12ab56' }))).toBe('BAD_REQUEST');
  });

  it('counts logins by outcome and audits them without secrets', async () => {
    const id = await relay.addUser('alice', 'radiographer');
    await relay.login('alice');
    await relay.post('/auth/login', { username: 'alice', password: 'Tr0ub4dor&3-wrong' });
    await relay.post('/auth/login', { username: 'ghost', password: 'Tr0ub4dor&3-wrong' });
    const metrics = await (await fetch(`${relay.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/relaypacs_logins_total\{outcome="success"\} 1/);
    expect(metrics).toMatch(/relaypacs_logins_total\{outcome="failure"\} 2/);
    const rows = relay.db.prepare("SELECT actor_user_id, outcome, address FROM audit_log WHERE action = 'login' ORDER BY id").all();
    expect(rows).toEqual([
      { actor_user_id: id, outcome: 'success', address: '127.0.0.1' },
      { actor_user_id: id, outcome: 'wrong-password', address: '127.0.0.1' },
      { actor_user_id: null, outcome: 'unknown-user', address: '127.0.0.1' },
    ]);
    const everything = JSON.stringify(relay.db.prepare('SELECT * FROM audit_log').all());
    expect(everything).not.toContain('Tr0ub4dor');
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain('ghost');
  });
});
