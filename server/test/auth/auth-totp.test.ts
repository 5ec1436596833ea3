import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { base32Decode, generateTotpSecret, totpCode } from '../../src/auth/totp.js';
import { errorCode, PASSWORD, startTestRelay, type TestRelay } from '../support/test-relay.js';

describe('login with a one-time code (RFC 6238)', () => {
  let relay: TestRelay;
  let secret: string;
  let userId: number;
  const code = (offsetSeconds = 0) => totpCode(base32Decode(secret), new Date(relay.now().getTime() + offsetSeconds * 1000));
  /** A code that matches none of the steps the relay would accept now. */
  const wrongCode = (): string => {
    const valid = new Set([code(-30), code(), code(30)]);
    for (let n = 0; ; n++) if (!valid.has(String(n).padStart(6, '0'))) return String(n).padStart(6, '0');
  };
  const login = (totp?: string, password = PASSWORD) => relay.post('/auth/login', { username: 'rita', password, ...(totp ? { totp } : {}) });

  beforeEach(async () => {
    relay = await startTestRelay({ auth: { maxFailuresPerUser: 10 } });
    secret = generateTotpSecret();
    userId = await relay.addUser('rita', 'radiologist', { totpSecret: secret });
  });
  afterEach(async () => {
    await relay.close();
  });

  it('asks for the code when the password is right and none was sent', async () => {
    const response = await login();
    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe('AUTH_TOTP_REQUIRED');
    // A wrong password says nothing about a code: the client must not learn the password was close.
    expect(await errorCode(await login(undefined, 'wrong password here'))).toBe('AUTH_INVALID_CREDENTIALS');
  });

  it('signs in with the current code', async () => {
    const response = await login(code());
    expect(response.status).toBe(200);
    expect(((await response.json()) as { user: { id: number } }).user.id).toBe(userId);
  });

  it('refuses a wrong code and a right code with a wrong password', async () => {
    const right = code();
    expect(await errorCode(await login(wrongCode()))).toBe('AUTH_INVALID_CREDENTIALS');
    expect(await errorCode(await login(right, 'wrong password here'))).toBe('AUTH_INVALID_CREDENTIALS');
    // The code was not spent by the failed attempt.
    expect((await login(right)).status).toBe(200);
  });

  it('refuses a replayed code, and an older one after a newer was used', async () => {
    const current = code();
    const previous = code(-30);
    expect((await login(current)).status).toBe(200);
    const replay = await login(current);
    expect(replay.status).toBe(401);
    expect(await errorCode(replay)).toBe('AUTH_INVALID_CREDENTIALS');
    expect(await errorCode(await login(previous))).toBe('AUTH_INVALID_CREDENTIALS');
    relay.advance(30);
    expect((await login(code())).status).toBe(200);
    const rows = relay.db.prepare("SELECT outcome FROM audit_log WHERE action = 'login' ORDER BY id").all();
    expect(rows).toEqual([{ outcome: 'success' }, { outcome: 'replayed-totp' }, { outcome: 'replayed-totp' }, { outcome: 'success' }]);
  });

  it('allows one step of clock drift either way, and no more', async () => {
    expect((await login(code(-30))).status).toBe(200);
    expect((await login(code(+30))).status).toBe(200);
    relay.advance(120);
    expect(await errorCode(await login(code(-60)))).toBe('AUTH_INVALID_CREDENTIALS');
    expect(await errorCode(await login(code(+60)))).toBe('AUTH_INVALID_CREDENTIALS');
  });

  it('counts wrong codes against the user name', async () => {
    await relay.close();
    relay = await startTestRelay({ auth: { maxFailuresPerUser: 2 } });
    await relay.addUser('rita', 'radiologist', { totpSecret: secret });
    expect(await errorCode(await login(wrongCode()))).toBe('AUTH_INVALID_CREDENTIALS');
    expect(await errorCode(await login(wrongCode()))).toBe('AUTH_INVALID_CREDENTIALS');
    expect((await login(code())).status).toBe(429);
  });

  it('does not count "code required" as a failure', async () => {
    await relay.close();
    relay = await startTestRelay({ auth: { maxFailuresPerUser: 2 } });
    await relay.addUser('rita', 'radiologist', { totpSecret: secret });
    for (let i = 0; i < 3; i++) expect(await errorCode(await login())).toBe('AUTH_TOTP_REQUIRED');
    expect((await login(code())).status).toBe(200);
  });
});
