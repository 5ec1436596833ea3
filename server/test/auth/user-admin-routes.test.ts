import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { UserSummary } from '../../src/protocol/auth-protocol.js';
import { errorCode, PASSWORD, startTestRelay, type TestRelay } from '../support/test-relay.js';

describe('/admin/users', () => {
  let relay: TestRelay;
  let adminId: number;
  let adminToken: string;

  beforeEach(async () => {
    relay = await startTestRelay();
    adminId = await relay.addUser('ada', 'admin');
    adminToken = (await relay.login('ada')).accessToken;
  });
  afterEach(async () => {
    await relay.close();
  });

  it('needs the admin role: 401 without a token, 403 for a radiographer', async () => {
    await relay.addUser('rob', 'radiographer');
    const robToken = (await relay.login('rob')).accessToken;
    expect((await relay.get('/admin/users')).status).toBe(401);
    const forbidden = await relay.get('/admin/users', robToken);
    expect(forbidden.status).toBe(403);
    expect(await errorCode(forbidden)).toBe('AUTH_FORBIDDEN');
    expect((await relay.post('/admin/users', { username: 'eve', role: 'admin', password: PASSWORD }, robToken)).status).toBe(403);
    expect((await relay.post('/admin/users/ada/disable', {}, robToken)).status).toBe(403);
    expect(await relay.services.store.users.findByUsername('eve')).toBeUndefined();
    expect((await relay.services.store.users.findByUsername('ada'))!.disabled).toBe(false);
  });

  it('lists accounts without password hashes or TOTP secrets', async () => {
    await relay.addUser('rita', 'radiologist', { totpSecret: 'JBSWY3DPEHPK3PXP' });
    const response = await relay.get('/admin/users', adminToken);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain('argon2');
    expect(text).not.toContain('JBSWY3DPEHPK3PXP');
    const { users } = JSON.parse(text) as { users: UserSummary[] };
    expect(users.map(({ username, role, disabled, totpEnrolled }) => ({ username, role, disabled, totpEnrolled }))).toEqual([
      { username: 'ada', role: 'admin', disabled: false, totpEnrolled: false },
      { username: 'rita', role: 'radiologist', disabled: false, totpEnrolled: true },
    ]);
    expect(Object.keys(users[0]!).sort()).toEqual(['createdAt', 'disabled', 'id', 'role', 'totpEnrolled', 'username']);
  });

  it('creates an account that can then sign in', async () => {
    const response = await relay.post('/admin/users', { username: 'carl', role: 'clinician', password: 'a long enough one' }, adminToken);
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ username: 'carl', role: 'clinician', disabled: false, totpEnrolled: false });
    expect((await relay.login('carl', 'a long enough one')).user.role).toBe('clinician');
    const audit = relay.db.prepare("SELECT actor_user_id, target, outcome FROM audit_log WHERE action = 'user-add'").all();
    expect(audit).toEqual([{ actor_user_id: adminId, target: 'carl', outcome: 'success' }]);
  });

  it('refuses duplicates, short passwords, unknown roles and odd names', async () => {
    const duplicate = await relay.post('/admin/users', { username: 'ADA', role: 'admin', password: PASSWORD }, adminToken);
    expect(duplicate.status).toBe(409);
    expect(await duplicate.json()).toEqual({ error: { code: 'USER_EXISTS', message: 'an account named ADA already exists' } });
    for (const body of [
      { username: 'carl', role: 'clinician', password: 'short' },
      { username: 'carl', role: 'janitor', password: PASSWORD },
      { username: 'carl smith', role: 'clinician', password: PASSWORD },
      { username: 'carl', role: 'clinician' },
    ]) {
      const response = await relay.post('/admin/users', body, adminToken);
      expect(response.status).toBe(400);
      expect(await errorCode(response)).toBe('BAD_REQUEST');
    }
    expect((await relay.services.store.users.list()).map((u) => u.username)).toEqual(['ada']);
  });

  it('disabling ends the account\'s sessions at once and refuses its sign-ins', async () => {
    await relay.addUser('rob', 'radiographer');
    const rob = await relay.login('rob');
    const response = await relay.post('/admin/users/rob/disable', {}, adminToken);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ username: 'rob', disabled: true });
    // rob's access token was valid for ten more minutes; the guard refuses it now.
    expect((await relay.get('/admin/users', rob.accessToken)).status).toBe(401);
    expect(await errorCode(await relay.post('/auth/refresh', { refreshToken: rob.refreshToken }))).toBe('AUTH_TOKEN_INVALID');
    expect(await errorCode(await relay.post('/auth/login', { username: 'rob', password: PASSWORD }))).toBe('AUTH_INVALID_CREDENTIALS');
    expect((await relay.post('/admin/users/rob/enable', {}, adminToken)).status).toBe(200);
    // Enabling again does not bring the ended session back; rob signs in anew.
    expect((await relay.get('/admin/users', rob.accessToken)).status).toBe(401);
    expect(await errorCode(await relay.post('/auth/refresh', { refreshToken: rob.refreshToken }))).toBe('AUTH_TOKEN_INVALID');
    expect((await relay.login('rob')).user.username).toBe('rob');
  });

  it('answers 404 for an unknown account and refuses to disable the admin\'s own', async () => {
    const missing = await relay.post('/admin/users/nobody/disable', {}, adminToken);
    expect(missing.status).toBe(404);
    expect(await errorCode(missing)).toBe('USER_NOT_FOUND');
    const self = await relay.post('/admin/users/ADA/disable', {}, adminToken);
    expect(self.status).toBe(400);
    expect((await relay.services.store.users.findByUsername('ada'))!.disabled).toBe(false);
  });
});
