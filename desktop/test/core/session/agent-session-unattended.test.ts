// The agent's session with systemd credentials: signed in as they say before any request, and
// signing in again by itself with the password whenever it holds no refresh token (a restart, since
// tokens are kept in memory) or the relay refuses the one it holds. The relay is a stand-in here;
// relaypacs-headless-credentials.test.ts runs the same against the real relay.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemoryCredentialStore, type UnattendedSignIn } from '../../../src/core/secrets/agent-credentials.js';
import { userAccount } from '../../../src/core/secrets/credential-account.js';
import { AgentSession, NotSignedInError } from '../../../src/core/session/agent-session.js';
import { RelayRequestError, type RelayClient } from '../../../src/core/upload/relay-client.js';

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-session-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const RELAY = 'https://relay.example:8780';

/** Counts sign-ins and refreshes; refuses refresh tokens listed in `revoked`. */
function standInRelay() {
  const calls = { login: 0, refresh: 0, passwords: [] as string[] };
  const revoked = new Set<string>();
  let n = 0;
  const tokens = () => ({ accessToken: `access-${++n}`, accessTokenExpiresAt: new Date(Date.now() + 600_000).toISOString(), refreshToken: `rpr_${n}` });
  const client = {
    login: (username: string, password: string) => {
      calls.login++;
      calls.passwords.push(password);
      return Promise.resolve({ ...tokens(), user: { username, role: 'device' } });
    },
    refresh: (refreshToken: string) => {
      calls.refresh++;
      if (revoked.has(refreshToken)) return Promise.reject(new RelayRequestError('the sign-in has ended', 401, 'AUTH_TOKEN_INVALID', undefined, false));
      return Promise.resolve(tokens());
    },
  } as unknown as RelayClient;
  return { client, calls, revoked };
}

it('is signed in as the credentials say without a request, signs in with the password on first use, and again when the relay refuses the token', async () => {
  const dataDir = await mkdtemp(join(workDir, 'a-'));
  const relay = standInRelay();
  const store = new MemoryCredentialStore();
  const unattended: UnattendedSignIn = { relayUrl: RELAY, username: 'ct-scanner', password: () => Promise.resolve('scanner secret') };
  const session = new AgentSession(dataDir, store, () => relay.client, unattended);

  expect(await session.info()).toEqual({ relayUrl: RELAY, username: 'ct-scanner', role: 'device' });
  expect(relay.calls.login).toBe(0);

  expect(await session.accessToken()).toBe('access-1');
  expect(relay.calls).toMatchObject({ login: 1, refresh: 0, passwords: ['scanner secret'] });
  expect(await store.get(userAccount(RELAY, 'ct-scanner'))).toBe('rpr_1');
  expect(JSON.parse(await readFile(join(dataDir, 'session.json'), 'utf8'))).toEqual({ relayUrl: RELAY, username: 'ct-scanner', role: 'device' });

  // The relay refused the access token: refreshed with the kept refresh token, which rotates.
  expect(await session.accessToken('access-1')).toBe('access-2');
  expect(relay.calls).toMatchObject({ login: 1, refresh: 1 });
  expect(await store.get(userAccount(RELAY, 'ct-scanner'))).toBe('rpr_2');

  // The relay ended the session (revoked, expired): signed in again with the password, not stopped.
  relay.revoked.add('rpr_2');
  expect(await session.accessToken('access-2')).toBe('access-3');
  expect(relay.calls).toMatchObject({ login: 2, refresh: 2 });

  // A restart: a new session over an empty memory store signs in again.
  const restarted = new AgentSession(dataDir, new MemoryCredentialStore(), () => relay.client, unattended);
  expect(await restarted.accessToken()).toBe('access-4');
  expect(relay.calls.login).toBe(3);
});

it('without systemd credentials, a missing or refused refresh token still means signing in again by hand', async () => {
  const dataDir = await mkdtemp(join(workDir, 'b-'));
  const relay = standInRelay();
  const store = new MemoryCredentialStore();
  const session = new AgentSession(dataDir, store, () => relay.client);
  await session.login(RELAY, 'alice', 'password');
  const fresh = new AgentSession(dataDir, new MemoryCredentialStore(), () => relay.client);
  await expect(fresh.accessToken()).rejects.toThrow(NotSignedInError);
  relay.revoked.add('rpr_1');
  await expect(session.accessToken('access-1')).rejects.toMatchObject({ status: 401 });
  expect(relay.calls.login).toBe(1);
});
