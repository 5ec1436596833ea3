import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TokenResponse } from '../../src/protocol/auth-protocol.js';
import { errorCode, startTestRelay, type TestRelay } from '../support/test-relay.js';

describe('access and refresh tokens', () => {
  let relay: TestRelay;
  let adminId: number;

  beforeEach(async () => {
    relay = await startTestRelay();
    adminId = await relay.addUser('ada', 'admin');
  });
  afterEach(async () => {
    await relay.close();
  });

  const refresh = (refreshToken: string) => relay.post('/auth/refresh', { refreshToken });
  const listUsers = (accessToken: string) => relay.get('/admin/users', accessToken);

  it('rotates the refresh token on every refresh and issues a fresh access token', async () => {
    const first = await relay.login('ada');
    relay.advance(60);
    const response = await refresh(first.refreshToken);
    expect(response.status).toBe(200);
    const second = (await response.json()) as TokenResponse;
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.user).toEqual({ id: adminId, username: 'ada', role: 'admin' });
    expect(Date.parse(second.accessTokenExpiresAt)).toBe(relay.now().getTime() + 600_000);
    // Same session, same absolute end: refreshing does not extend it.
    expect(second.refreshTokenExpiresAt).toBe(first.refreshTokenExpiresAt);
    expect((await listUsers(second.accessToken)).status).toBe(200);
    expect((await refresh(second.refreshToken)).status).toBe(200);
  });

  it('revokes the whole family when a rotated refresh token is used again', async () => {
    const first = await relay.login('ada');
    const second = (await (await refresh(first.refreshToken)).json()) as TokenResponse;
    const other = await relay.login('ada'); // another sign-in, another family

    relay.advance(61); // past auth.refreshReuseGraceSeconds: not a lost answer
    const reuse = await refresh(first.refreshToken);
    expect(reuse.status).toBe(401);
    expect(await errorCode(reuse)).toBe('AUTH_TOKEN_INVALID');
    expect(await errorCode(await refresh(second.refreshToken))).toBe('AUTH_TOKEN_INVALID');
    // Access tokens of the family die with it, before they expire.
    const guarded = await listUsers(second.accessToken);
    expect(guarded.status).toBe(401);
    expect(await errorCode(guarded)).toBe('AUTH_TOKEN_INVALID');
    expect((await listUsers(first.accessToken)).status).toBe(401);
    // The other sign-in carries on.
    expect((await listUsers(other.accessToken)).status).toBe(200);
    expect((await refresh(other.refreshToken)).status).toBe(200);
    const audit = relay.db.prepare("SELECT outcome FROM audit_log WHERE action = 'refresh' ORDER BY id").all();
    expect(audit).toEqual([{ outcome: 'success' }, { outcome: 'reused' }, { outcome: 'revoked' }, { outcome: 'success' }]);
  });

  it('rotates again when the answer to a refresh was lost, and catches the fork if the lost successor turns up', async () => {
    const session = await relay.login('ada');
    const lost = (await (await refresh(session.refreshToken)).json()) as TokenResponse;
    relay.advance(30);
    const replay = await refresh(session.refreshToken);
    expect(replay.status).toBe(200);
    const kept = (await replay.json()) as TokenResponse;
    expect(kept.refreshToken).not.toBe(lost.refreshToken);
    expect((await listUsers(kept.accessToken)).status).toBe(200);
    // The successor whose answer was lost is spent: someone presenting it ends the session for both.
    expect(await errorCode(await refresh(lost.refreshToken))).toBe('AUTH_TOKEN_INVALID');
    expect(await errorCode(await refresh(kept.refreshToken))).toBe('AUTH_TOKEN_INVALID');
    expect((await listUsers(kept.accessToken)).status).toBe(401);
    const audit = relay.db.prepare("SELECT outcome FROM audit_log WHERE action = 'refresh' ORDER BY id").all();
    expect(audit).toEqual([{ outcome: 'success' }, { outcome: 'success-replayed' }, { outcome: 'reused' }, { outcome: 'revoked' }]);
  });

  it('with the grace off, lets only one of two simultaneous refreshes with the same token succeed', async () => {
    await relay.close();
    relay = await startTestRelay({ auth: { refreshReuseGraceSeconds: 0 } });
    await relay.addUser('ada', 'admin');
    const session = await relay.login('ada');
    const statuses = await Promise.all([refresh(session.refreshToken), refresh(session.refreshToken)].map(async (r) => (await r).status));
    expect(statuses.sort()).toEqual([200, 401]);
  });

  it('with the grace on, two simultaneous refreshes both answer, and presenting both successors ends the session', async () => {
    const session = await relay.login('ada');
    const answers = await Promise.all([refresh(session.refreshToken), refresh(session.refreshToken)]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    const [a, b] = await Promise.all(answers.map(async (r) => (await r.json()) as TokenResponse));
    await refresh(a!.refreshToken);
    await refresh(b!.refreshToken);
    expect((await listUsers(a!.accessToken)).status).toBe(401);
  });

  it('logout ends the session: its refresh and access tokens stop working; logging out again is fine', async () => {
    const session = await relay.login('ada');
    const logout = await relay.post('/auth/logout', { refreshToken: session.refreshToken });
    expect(logout.status).toBe(204);
    expect(await logout.text()).toBe('');
    expect(await errorCode(await refresh(session.refreshToken))).toBe('AUTH_TOKEN_INVALID');
    expect((await listUsers(session.accessToken)).status).toBe(401);
    expect((await relay.post('/auth/logout', { refreshToken: session.refreshToken })).status).toBe(204);
    expect((await relay.post('/auth/logout', { refreshToken: 'rpr_never-issued' })).status).toBe(204);
  });

  it('refuses an expired access token', async () => {
    const session = await relay.login('ada');
    relay.advance(599);
    expect((await listUsers(session.accessToken)).status).toBe(200);
    relay.advance(10); // past expiry and the 5 s clock tolerance
    const expired = await listUsers(session.accessToken);
    expect(expired.status).toBe(401);
    expect(await expired.json()).toEqual({ error: { code: 'AUTH_TOKEN_INVALID', message: 'the token has expired' } });
    expect(expired.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    // The session lives on: a refresh brings a new access token.
    const renewed = (await (await refresh(session.refreshToken)).json()) as TokenResponse;
    expect((await listUsers(renewed.accessToken)).status).toBe(200);
  });

  it('refuses a refresh once the session has expired', async () => {
    const session = await relay.login('ada');
    relay.advance(30 * 24 * 3600);
    expect(await errorCode(await refresh(session.refreshToken))).toBe('AUTH_TOKEN_INVALID');
  });

  it('does not take an upload token on a user route', async () => {
    const uploadToken = await relay.services.tokens.issueUploadToken({ userId: adminId, uploadId: 'upload-1', sessionId: 'session-1' }, new Date(relay.now().getTime() + 3600_000));
    const response = await listUsers(uploadToken);
    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe('AUTH_TOKEN_INVALID');
  });

  it('does not take a refresh token as a bearer token, nor an access token as a refresh token', async () => {
    const session = await relay.login('ada');
    expect(await errorCode(await listUsers(session.refreshToken))).toBe('AUTH_TOKEN_INVALID');
    expect(await errorCode(await refresh(session.accessToken))).toBe('AUTH_TOKEN_INVALID');
    // Neither attempt harmed the session.
    expect((await listUsers(session.accessToken)).status).toBe(200);
    expect((await refresh(session.refreshToken)).status).toBe(200);
  });

  it('refuses unsigned ("alg": "none") and tampered access tokens', async () => {
    const session = await relay.login('ada');
    const [, payload, signature] = session.accessToken.split('.');
    const noneHeader = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url');
    expect(await errorCode(await listUsers(`${noneHeader}.${payload}.`))).toBe('AUTH_TOKEN_INVALID');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, role: 'admin', sub: '999' })).toString('base64url');
    const [header] = session.accessToken.split('.');
    expect(await errorCode(await listUsers(`${header}.${forged}.${signature}`))).toBe('AUTH_TOKEN_INVALID');
  });

  it('asks for a token when none is sent', async () => {
    const response = await relay.get('/admin/users');
    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe('AUTH_REQUIRED');
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('stops refreshing for a user who was disabled', async () => {
    const id = await relay.addUser('rob', 'radiographer');
    const session = await relay.login('rob');
    await relay.services.store.users.setDisabled(id, true); // disabled behind the relay's back, without revoking
    expect(await errorCode(await refresh(session.refreshToken))).toBe('AUTH_TOKEN_INVALID');
    await relay.services.store.users.setDisabled(id, false);
    // The refusal ended the session for good.
    expect(await errorCode(await refresh(session.refreshToken))).toBe('AUTH_TOKEN_INVALID');
  });

  it('keeps the signing key readable by the relay\'s account only', async () => {
    // The key lives in the store (relay.db, table jwt_signing_keys) since the shared store (issue 16).
    expect(relay.db.prepare('SELECT COUNT(*) AS n FROM jwt_signing_keys').get()).toEqual({ n: 1 });
    for (const file of ['relay.db', 'relay.db-wal']) {
      const key = await stat(join(relay.dataDir, file));
      expect(key.mode & 0o777, file).toBe(0o600);
    }
    expect((await stat(relay.dataDir)).mode & 0o777).toBe(0o700);
  });
});
