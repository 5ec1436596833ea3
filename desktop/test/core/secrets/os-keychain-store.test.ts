import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startKeyringSession, type KeyringSession } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isErrorCode } from '../../../src/common/error-codes.js';
import { deviceAccount, userAccount } from '../../../src/core/secrets/credential-account.js';
import { KeychainUnavailableError } from '../../../src/core/secrets/credential-store.js';
import { createCredentialStore, OsKeychainStore } from '../../../src/core/secrets/os-keychain-store.js';
import type { ChildCall, ChildOutcome } from './fixtures/keychain-child.js';

// Every test talks to a real gnome-keyring-daemon on a private D-Bus session bus (testkit). libdbus
// reads the bus address once per process, so this process points at its session before its first
// keychain call, and anything needing another bus (none, an empty one, a locked keyring) runs in a
// child process (fixtures/keychain-child.ts) with that environment.

const run = promisify(execFile);
const CHILD = join(import.meta.dirname, 'fixtures/keychain-child.ts');
const RELAY = 'https://relay.example:8780';

let session: KeyringSession;
let workDir: string;
const busBefore = process.env.DBUS_SESSION_BUS_ADDRESS;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-secrets-'));
  session = await startKeyringSession();
  Object.assign(process.env, session.env);
});
afterAll(async () => {
  if (busBefore === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
  else process.env.DBUS_SESSION_BUS_ADDRESS = busBefore;
  await session?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A fresh account name per test, so tests sharing the keyring never see each other's items. */
const account = () => userAccount(RELAY, `user-${randomBytes(4).toString('hex')}`);

async function inChild(env: NodeJS.ProcessEnv, calls: ChildCall[], service = 'RelayPACS'): Promise<ChildOutcome[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify({ service, calls })], { env, cwd: process.cwd(), timeout: 30_000 });
  return JSON.parse(stdout) as ChildOutcome[];
}

/** A child environment with its own empty HOME and XDG directories, and no session bus unless given. */
async function isolatedEnv(name: string, extra: NodeJS.ProcessEnv = {}): Promise<{ env: NodeJS.ProcessEnv; root: string }> {
  const root = join(workDir, name);
  const dirs = { HOME: 'home', XDG_DATA_HOME: 'data', XDG_CONFIG_HOME: 'config', XDG_CACHE_HOME: 'cache', XDG_RUNTIME_DIR: 'runtime', XDG_STATE_HOME: 'state' };
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  for (const [variable, dir] of Object.entries(dirs)) {
    env[variable] = join(root, dir);
    await mkdir(join(root, dir), { recursive: true, mode: 0o700 });
  }
  return { env: { ...env, ...extra }, root };
}

/** Every file under `root`, relative; directories alone do not count. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1));
}

function secretToolLookup(account: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return run('secret-tool', ['lookup', 'service', 'RelayPACS', 'username', account], { env }).then(({ stdout }) => stdout);
}

function secretToolStore(account: string, secret: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('secret-tool', ['store', '--label=written by secret-tool', 'service', 'RelayPACS', 'username', account], (error) => (error ? reject(error) : resolve()));
    child.stdin?.end(secret);
  });
}

describe('OsKeychainStore with a real Secret Service', () => {
  const store = new OsKeychainStore();

  it('keeps, returns and deletes a secret', async () => {
    const name = account();
    await store.set(name, 'refresh-token-1');
    expect(await store.get(name)).toBe('refresh-token-1');
    expect(await store.delete(name)).toBe(true);
    expect(await store.get(name)).toBeUndefined();
    expect(await store.delete(name)).toBe(false);
  });

  it('replaces a secret rather than adding a second item', async () => {
    const name = account();
    await store.set(name, 'first');
    await store.set(name, 'second');
    expect(await store.get(name)).toBe('second');
    const { stdout } = await run('secret-tool', ['search', '--all', 'service', 'RelayPACS', 'username', name]);
    expect(stdout.match(/^\[\//gm)).toHaveLength(1);
  });

  it('answers undefined and false for an account it never stored', async () => {
    const name = account();
    expect(await store.get(name)).toBeUndefined();
    expect(await store.delete(name)).toBe(false);
  });

  it('keeps unicode, long and punctuation-heavy secrets exactly, under unicode account names', async () => {
    const values = ['pässwörd — 日本語 🔑 ∑', ' leading and trailing spaces ', `eyJ${randomBytes(3000).toString('base64url')}.sig`, 'quote " backslash \\ newline \n tab \t'];
    for (const value of values) {
      const name = userAccount(RELAY, `zoë-${randomBytes(3).toString('hex')}`);
      await store.set(name, value);
      expect(await store.get(name)).toBe(value);
    }
  });

  it('files the secret in the Secret Service under service and username, encrypted on disk', async () => {
    const name = account();
    const secret = `token-${randomBytes(12).toString('hex')}`;
    await store.set(name, secret);
    // secret-tool is another Secret Service client: it finds the item by the attributes documented in os-keychain-store.ts.
    expect(await secretToolLookup(name)).toBe(secret);
    const { stdout } = await run('secret-tool', ['search', '--all', 'service', 'RelayPACS', 'username', name]);
    expect(stdout).toContain(`label = keyring:${name}@RelayPACS`);
    // gnome-keyring keeps it in its login keyring file, which holds no plaintext copy.
    const keyringFiles = await readdir(session.keyringDir);
    expect(keyringFiles).toContain('login.keyring');
    for (const file of keyringFiles) expect((await readFile(join(session.keyringDir, file))).includes(secret)).toBe(false);
    // And the other way round: an item another client wrote is read by the store.
    const other = account();
    await secretToolStore(other, 'written-elsewhere');
    expect(await store.get(other)).toBe('written-elsewhere');
  });

  it('is shared by a second store and by another process, but not across service names', async () => {
    const name = deviceAccount(RELAY);
    await store.set(name, 'device-secret');
    expect(await new OsKeychainStore().get(name)).toBe('device-secret');
    expect(await createCredentialStore().get(name)).toBe('device-secret');
    expect(await new OsKeychainStore({ service: 'RelayPACS-other' }).get(name)).toBeUndefined();

    const fromChild = account();
    const outcomes = await inChild({ ...process.env, ...session.env }, [
      { op: 'get', account: name },
      { op: 'set', account: fromChild, secret: 'set-by-child' },
    ]);
    expect(outcomes).toEqual([{ ok: true, value: 'device-secret' }, { ok: true, value: null }]);
    expect(await store.get(fromChild)).toBe('set-by-child');
  });

  it('refuses empty or control-character account names and empty secrets before touching the keychain', async () => {
    await expect(store.get('')).rejects.toThrow(RangeError);
    await expect(store.set('a\nb', 'x')).rejects.toThrow(RangeError);
    await expect(store.set(account(), '')).rejects.toThrow(RangeError);
  });
});

describe('OsKeychainStore without a usable Secret Service', () => {
  const secret = `must-not-leak-${randomBytes(8).toString('hex')}`;

  it('fails with KEYCHAIN_UNAVAILABLE when there is no session bus, and writes nothing anywhere', async () => {
    const { env, root } = await isolatedEnv('no-bus');
    const name = account();
    const outcomes = await inChild(env, [{ op: 'set', account: name, secret }, { op: 'get', account: name }, { op: 'keyutils-get', account: name }]);
    const [set, get, keyutils] = outcomes;
    for (const outcome of [set, get]) {
      expect(outcome).toMatchObject({ ok: false, name: 'KeychainUnavailableError', code: 'KEYCHAIN_UNAVAILABLE', reason: 'no-session-bus' });
      expect(outcome).toHaveProperty('message', expect.stringContaining('DBUS_SESSION_BUS_ADDRESS is not set'));
    }
    expect(JSON.stringify(outcomes)).not.toContain(secret);
    // Pinned to the Secret Service: no file fell out of it, and the kernel keyring (keyring-rs's
    // fallback when not pinned) does not hold the secret either: empty, or not usable on this host.
    expect(await filesUnder(root)).toEqual([]);
    if (keyutils?.ok) expect(keyutils.value).toBeNull();
  });

  it('fails with KEYCHAIN_UNAVAILABLE when the bus address leads nowhere', async () => {
    const { env } = await isolatedEnv('dead-bus');
    const outcomes = await inChild({ ...env, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(workDir, 'no-such-bus')}` }, [{ op: 'get', account: account() }]);
    expect(outcomes[0]).toMatchObject({ ok: false, code: 'KEYCHAIN_UNAVAILABLE', reason: 'no-session-bus' });
    expect(outcomes[0]).toHaveProperty('message', expect.stringContaining('cannot be reached'));
  });

  it('fails with KEYCHAIN_UNAVAILABLE when nothing on the bus provides org.freedesktop.secrets', async () => {
    const bare = await startKeyringSession({ secretService: false });
    try {
      const { env, root } = await isolatedEnv('no-secret-service', bare.env);
      const outcomes = await inChild(env, [{ op: 'set', account: account(), secret }]);
      expect(outcomes[0]).toMatchObject({ ok: false, code: 'KEYCHAIN_UNAVAILABLE', reason: 'no-secret-service' });
      expect(outcomes[0]).toHaveProperty('message', expect.stringContaining('No Secret Service is running'));
      expect(JSON.stringify(outcomes)).not.toContain(secret);
      expect(await filesUnder(root)).toEqual([]);
    } finally {
      await bare.stop();
    }
  });

  it('fails with KEYCHAIN_UNAVAILABLE when the keyring is locked and cannot be unlocked', async () => {
    const locked = await startKeyringSession();
    try {
      const existing = account();
      await new Promise<void>((resolve, reject) => {
        const child = execFile('secret-tool', ['store', '--label=before lock', 'service', 'RelayPACS', 'username', existing], { env: { ...process.env, ...locked.env } }, (error) => (error ? reject(error) : resolve()));
        child.stdin?.end('stored-before-lock');
      });
      await locked.lock();
      // Nothing on the private bus can show an unlock prompt, as on a server with no desktop.
      const outcomes = await inChild({ ...process.env, ...locked.env }, [
        { op: 'set', account: account(), secret },
        { op: 'get', account: existing },
        { op: 'delete', account: existing },
      ]);
      for (const outcome of outcomes) {
        expect(outcome).toMatchObject({ ok: false, code: 'KEYCHAIN_UNAVAILABLE', reason: 'locked' });
        expect(outcome).toHaveProperty('message', expect.stringContaining('keyring is locked'));
      }
      expect(JSON.stringify(outcomes)).not.toContain(secret);
    } finally {
      await locked.stop();
    }
  });

  it('carries a stable code from the error table', () => {
    const error = new KeychainUnavailableError('locked', 'unlock it');
    expect(error).toBeInstanceOf(Error);
    expect(isErrorCode(error.code)).toBe(true);
    expect(error.code).toBe('KEYCHAIN_UNAVAILABLE');
  });
});
