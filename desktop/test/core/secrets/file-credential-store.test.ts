// The headless agent's credential file: mode 0600, written atomically, refused when others could
// read it or when it is not the user's own; and where the agent takes credentials from (systemd
// credentials, the file, the keychain), with IT policy able to forbid the file.
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_POLICY, type EffectivePolicy } from '../../../src/core/policy/policy-model.js';
import { validatePolicyDocument } from '../../../src/core/policy/policy-validation.js';
import { agentCredentials, credentialStoreChoice, MemoryCredentialStore, systemdCredentials } from '../../../src/core/secrets/agent-credentials.js';
import { KeychainUnavailableError } from '../../../src/core/secrets/credential-store.js';
import { FileCredentialStore } from '../../../src/core/secrets/file-credential-store.js';
import { OsKeychainStore } from '../../../src/core/secrets/os-keychain-store.js';

let workDir: string;
let n = 0;
const fresh = async (): Promise<string> => {
  const dir = join(workDir, `case-${++n}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
};
const ACCOUNT = 'relay:https://relay.example/user:ct-scanner';

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-file-store-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe.skipIf(process.platform === 'win32')('FileCredentialStore', () => {
  it('keeps secrets in DATA/credentials.json of mode 0600, replacing it atomically, and leaves no temporary file', async () => {
    const dir = await fresh();
    const store = new FileCredentialStore(dir);
    expect(await store.get(ACCOUNT)).toBeUndefined();
    await store.set(ACCOUNT, 'rpr_first');
    await store.set(ACCOUNT, 'rpr_second');
    expect(((await stat(store.path)).mode & 0o777).toString(8)).toBe('600');
    expect(await new FileCredentialStore(dir).get(ACCOUNT)).toBe('rpr_second');
    expect(await readdir(dir)).toEqual(['credentials.json']);
    // Concurrent writes in one process are serialised: none is lost.
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.set(`${ACCOUNT}${i}`, `secret-${i}`)));
    for (let i = 0; i < 10; i++) expect(await store.get(`${ACCOUNT}${i}`)).toBe(`secret-${i}`);
    expect(await store.delete(ACCOUNT)).toBe(true);
    expect(await store.delete(ACCOUNT)).toBe(false);
    expect(await store.get(ACCOUNT)).toBeUndefined();
  });

  it('refuses a file of mode 0644 with a sentence saying to chmod 600 it, and never shows the secret', async () => {
    const dir = await fresh();
    const store = new FileCredentialStore(dir);
    await store.set(ACCOUNT, 'rpr_do_not_show');
    await chmod(store.path, 0o644);
    for (const call of [() => store.get(ACCOUNT), () => store.set(ACCOUNT, 'rpr_other'), () => store.delete(ACCOUNT)]) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(KeychainUnavailableError);
      expect(error).toMatchObject({ code: 'KEYCHAIN_UNAVAILABLE', reason: 'file-unsafe' });
      expect((error as Error).message).toBe(`The credential file ${store.path} has mode 0644, so other users can read or change it, and RelayPACS refuses to use it; run \`chmod 600 ${store.path}\` and try again.`);
      expect((error as Error).message).not.toContain('rpr_');
    }
    // Untouched by the refused write.
    expect(await readFile(store.path, 'utf8')).toContain('rpr_do_not_show');
    await chmod(store.path, 0o600);
    expect(await store.get(ACCOUNT)).toBe('rpr_do_not_show');
  });

  it('refuses a symbolic link in place of the file', async () => {
    const dir = await fresh();
    await writeFile(join(dir, 'elsewhere.json'), '{"version":1,"credentials":{}}', { mode: 0o600 });
    await symlink(join(dir, 'elsewhere.json'), join(dir, 'credentials.json'));
    await expect(new FileCredentialStore(dir).get(ACCOUNT)).rejects.toThrow(/is not a regular file/);
  });

  it.skipIf(process.getuid?.() !== 0)('refuses a file owned by another user (run as root: the file is given to nobody)', async () => {
    const dir = await fresh();
    const store = new FileCredentialStore(dir);
    await store.set(ACCOUNT, 'rpr_planted');
    await chown(store.path, 65534, 65534);
    await expect(store.get(ACCOUNT)).rejects.toThrow(`The credential file ${store.path} belongs to user id 65534, not to the user RelayPACS runs as (0), so RelayPACS refuses to use it`);
  });

  it('refuses a damaged file without quoting it', async () => {
    const dir = await fresh();
    await writeFile(join(dir, 'credentials.json'), '{"version":1,"credentials":{"a":"rpr_half', { mode: 0o600 });
    const error = await new FileCredentialStore(dir).get(ACCOUNT).then(() => undefined, (e: unknown) => e as Error);
    expect(error?.message).toMatch(/is not valid JSON; remove it and sign in again/);
    expect(error?.message).not.toContain('rpr_');
  });
});

describe('where the agent keeps its credentials', () => {
  const forbidding = (): Promise<EffectivePolicy> => {
    const result = validatePolicyDocument({ allowFileCredentialStore: false }, { source: '/etc/relaypacs/policy.json', pathStyle: 'posix' });
    return Promise.resolve({ values: result.values, failedKeys: result.failedKeys, keySources: { allowFileCredentialStore: '/etc/relaypacs/policy.json' }, sources: [], problems: result.problems });
  };

  it('reads the choice from --credential-store, else RELAYPACS_CREDENTIAL_STORE, and rejects anything else', () => {
    expect(credentialStoreChoice(undefined, {})).toBeUndefined();
    expect(credentialStoreChoice(undefined, { RELAYPACS_CREDENTIAL_STORE: 'file' })).toBe('file');
    expect(credentialStoreChoice('keychain', { RELAYPACS_CREDENTIAL_STORE: 'file' })).toBe('keychain');
    expect(() => credentialStoreChoice('plaintext', {})).toThrow('--credential-store must be "keychain" or "file", not "plaintext"');
    expect(() => credentialStoreChoice(undefined, { RELAYPACS_CREDENTIAL_STORE: 'memory' })).toThrow(/RELAYPACS_CREDENTIAL_STORE must be/);
  });

  it('uses the keychain unless told otherwise, and the file only when chosen', async () => {
    const dir = await fresh();
    expect((await agentCredentials({ dataDir: dir, env: {}, policy: () => Promise.resolve(NO_POLICY) })).store).toBeInstanceOf(OsKeychainStore);
    const file = await agentCredentials({ dataDir: dir, choice: 'file', env: {}, policy: () => Promise.resolve(NO_POLICY) });
    expect(file.store).toBeInstanceOf(FileCredentialStore);
    expect(file.where).toBe(`in the file ${join(dir, 'credentials.json')} (mode 0600)`);
  });

  it('refuses the file store when IT policy says allowFileCredentialStore: false, and does not fall back', async () => {
    const error = await agentCredentials({ dataDir: await fresh(), choice: 'file', env: {}, policy: forbidding }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(KeychainUnavailableError);
    expect(error).toMatchObject({ reason: 'file-forbidden' });
    expect((error as Error).message).toMatch(/^IT policy \(allowFileCredentialStore in \/etc\/relaypacs\/policy.json\) forbids keeping credentials in a file, so the agent does not;/);
    // A policy that tried to set the key and failed forbids it too: a typo never unlocks it.
    const typo = validatePolicyDocument({ allowFileCredentialStore: 'no' }, { source: 'p.json', pathStyle: 'posix' });
    expect(typo.failedKeys).toEqual(['allowFileCredentialStore']);
    await expect(agentCredentials({ dataDir: await fresh(), choice: 'file', env: {}, policy: () => Promise.resolve({ ...NO_POLICY, failedKeys: typo.failedKeys }) })).rejects.toMatchObject({ reason: 'file-forbidden' });
  });

  it('takes systemd credentials from $CREDENTIALS_DIRECTORY, keeping refreshed tokens in memory', async () => {
    const credentials = await fresh();
    await writeFile(join(credentials, 'relaypacs-relay'), 'https://relay.example:8780\n', { mode: 0o400 });
    await writeFile(join(credentials, 'relaypacs-user'), 'ct-scanner\n', { mode: 0o400 });
    await writeFile(join(credentials, 'relaypacs-password'), 'scanner secret\n', { mode: 0o400 });
    const chosen = await agentCredentials({ dataDir: await fresh(), env: { CREDENTIALS_DIRECTORY: credentials }, policy: forbidding });
    expect(chosen.store).toBeInstanceOf(MemoryCredentialStore);
    expect(chosen.unattended).toMatchObject({ relayUrl: 'https://relay.example:8780', username: 'ct-scanner' });
    expect(await chosen.unattended!.password()).toBe('scanner secret');
    // With the file chosen as well, refreshed tokens go to the file (policy permitting).
    const withFile = await agentCredentials({ dataDir: await fresh(), choice: 'file', env: { CREDENTIALS_DIRECTORY: credentials }, policy: () => Promise.resolve(NO_POLICY) });
    expect(withFile.store).toBeInstanceOf(FileCredentialStore);
    expect(withFile.unattended?.username).toBe('ct-scanner');
  });

  it('ignores a credentials directory without RelayPACS credentials, and names what is missing from an incomplete one', async () => {
    const other = await fresh();
    await writeFile(join(other, 'some-other-service-token'), 'x', { mode: 0o400 });
    expect(await systemdCredentials({ CREDENTIALS_DIRECTORY: other })).toBeUndefined();
    const partial = await fresh();
    await writeFile(join(partial, 'relaypacs-password'), 'x', { mode: 0o400 });
    await expect(systemdCredentials({ CREDENTIALS_DIRECTORY: partial })).rejects.toThrow('The systemd credentials directory ($CREDENTIALS_DIRECTORY) lacks relaypacs-relay and relaypacs-user;');
  });

  it.skipIf(process.platform === 'win32')('refuses a systemd credential readable by others (0644) with the chmod sentence', async () => {
    const credentials = await fresh();
    await writeFile(join(credentials, 'relaypacs-relay'), 'https://relay.example', { mode: 0o400 });
    await writeFile(join(credentials, 'relaypacs-user'), 'ct-scanner', { mode: 0o400 });
    await writeFile(join(credentials, 'relaypacs-password'), 'scanner secret', { mode: 0o644 });
    await chmod(join(credentials, 'relaypacs-password'), 0o644);
    const path = join(credentials, 'relaypacs-password');
    await expect(systemdCredentials({ CREDENTIALS_DIRECTORY: credentials }))
      .rejects.toThrow(`The systemd credential ${path} has mode 0644, so other users can read or change it, and RelayPACS refuses to use it; run \`chmod 600 ${path}\` and try again.`);
    // 0440 is what systemd shows when it grants the service's user through an ACL: accepted.
    await chmod(path, 0o440);
    expect(await systemdCredentials({ CREDENTIALS_DIRECTORY: credentials })).toBeDefined();
  });
});
