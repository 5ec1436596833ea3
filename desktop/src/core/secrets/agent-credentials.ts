/**
 * Where the headless agent (relaypacs) keeps and finds its credentials. The desktop app does not use
 * this module: it always builds the OS keychain store, whatever the environment says.
 *
 *   1. systemd credentials: when $CREDENTIALS_DIRECTORY holds the agent's files (a unit's
 *      LoadCredential=, LoadCredentialEncrypted= or SetCredential=, systemd.exec(5) "Credentials"):
 *        relaypacs-relay      the relay's address, e.g. https://relay.example:8780
 *        relaypacs-user       the (device) account to sign in as
 *        relaypacs-password   its password: the long-lived secret
 *      The directory is read-only (systemd.exec(5)), so the rotating refresh token the relay hands
 *      out cannot go back there. It is kept in memory by default: a restart signs in again with the
 *      password, which leaves no secret on disk besides what systemd manages (encrypted at rest with
 *      LoadCredentialEncrypted=). With --credential-store file or keychain chosen as well, the
 *      refresh token goes there instead, and the password is used when it is missing or refused.
 *   2. the OS keychain (the default): macOS Keychain, Windows Credential Manager, the Secret Service.
 *   3. a file of mode 0600 in the data folder (file-credential-store.ts), only when chosen with
 *      --credential-store file or RELAYPACS_CREDENTIAL_STORE=file, and only where IT policy does not
 *      forbid it (allowFileCredentialStore: false). A forbidden or unusable file store is an error,
 *      never a quiet fall back to something else.
 */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileRunner } from '../policy/command-runner.js';
import { loadPolicy } from '../policy/load-policy.js';
import type { EffectivePolicy } from '../policy/policy-model.js';
import { checkAccountName } from './credential-account.js';
import { KeychainUnavailableError, type CredentialStore } from './credential-store.js';
import { checkPrivateFile, FileCredentialStore } from './file-credential-store.js';
import { createCredentialStore } from './os-keychain-store.js';

export type CredentialStoreChoice = 'keychain' | 'file';

/** The environment variable that chooses the store when --credential-store is not given. */
export const CREDENTIAL_STORE_ENV = 'RELAYPACS_CREDENTIAL_STORE';

/** The credential names the agent reads in $CREDENTIALS_DIRECTORY. */
export const SYSTEMD_CREDENTIALS = { relay: 'relaypacs-relay', user: 'relaypacs-user', password: 'relaypacs-password' } as const;

/** A sign-in the agent can repeat by itself: from systemd credentials. */
export interface UnattendedSignIn {
  relayUrl: string;
  username: string;
  /** Read from its file at each sign-in, not kept in memory between them. */
  password(): Promise<string>;
}

export interface AgentCredentials {
  store: CredentialStore;
  unattended?: UnattendedSignIn;
  /** Where the sign-in is kept, for `relaypacs login`'s sentence: "in the system keychain". */
  where: string;
}

/** The choice from the flag, else the environment; undefined when neither says. */
export function credentialStoreChoice(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): CredentialStoreChoice | undefined {
  const value = flag ?? (env[CREDENTIAL_STORE_ENV]?.trim() || undefined);
  if (value === undefined) return undefined;
  if (value === 'keychain' || value === 'file') return value;
  throw new RangeError(`${flag === undefined ? CREDENTIAL_STORE_ENV : '--credential-store'} must be "keychain" or "file", not "${value}"`);
}

export interface AgentCredentialsOptions {
  dataDir: string;
  choice?: CredentialStoreChoice;
  env?: NodeJS.ProcessEnv;
  /** IT policy, read only when the file store is chosen; default: the machine's (load-policy.ts). */
  policy?: () => Promise<EffectivePolicy>;
}

export async function agentCredentials(options: AgentCredentialsOptions): Promise<AgentCredentials> {
  const env = options.env ?? process.env;
  const unattended = await systemdCredentials(env);
  if (options.choice === 'file') {
    // The policy file may be named only by RELAYPACS_POLICY_FILE here: the agent has no --policy-file flag.
    const policy = options.policy ?? (() => loadPolicy({ platform: process.platform, env, argv: [], run: execFileRunner }));
    await checkFileStoreAllowed(await policy());
    const store = new FileCredentialStore(options.dataDir);
    await store.check();
    return { store, ...(unattended ? { unattended } : {}), where: `in the file ${store.path} (mode 0600)` };
  }
  if (unattended && options.choice === undefined) {
    return { store: new MemoryCredentialStore(), unattended, where: 'in memory (the password comes from systemd credentials)' };
  }
  return { store: createCredentialStore(), ...(unattended ? { unattended } : {}), where: 'in the system keychain' };
}

/** A policy that forbids the file store, or tried to set the key and failed (never unlocked by a typo), refuses it. */
export async function checkFileStoreAllowed(policy: EffectivePolicy): Promise<void> {
  if (policy.values.allowFileCredentialStore === false || policy.failedKeys.includes('allowFileCredentialStore')) {
    const source = policy.keySources.allowFileCredentialStore ?? 'IT policy';
    throw new KeychainUnavailableError('file-forbidden', `IT policy (allowFileCredentialStore in ${source}) forbids keeping credentials in a file, so the agent does not; run it where the system keychain answers, or give it systemd credentials (${SYSTEMD_CREDENTIALS.relay}, ${SYSTEMD_CREDENTIALS.user}, ${SYSTEMD_CREDENTIALS.password}).`);
  }
}

/**
 * The agent's systemd credentials, or undefined when $CREDENTIALS_DIRECTORY is unset or holds none
 * of them (a unit's directory holds only what that unit loads). Some but not all is an error.
 */
export async function systemdCredentials(env: NodeJS.ProcessEnv = process.env): Promise<UnattendedSignIn | undefined> {
  const dir = env.CREDENTIALS_DIRECTORY;
  if (!dir) return undefined;
  const paths = { relay: join(dir, SYSTEMD_CREDENTIALS.relay), user: join(dir, SYSTEMD_CREDENTIALS.user), password: join(dir, SYSTEMD_CREDENTIALS.password) };
  const present = await Promise.all(Object.values(paths).map((path) => lstat(path).then((stats) => ({ path, stats }), () => undefined)));
  if (present.every((p) => p === undefined)) return undefined;
  const missing = Object.values(SYSTEMD_CREDENTIALS).filter((_, i) => present[i] === undefined);
  if (missing.length > 0) {
    throw new KeychainUnavailableError('credentials-incomplete', `The systemd credentials directory ($CREDENTIALS_DIRECTORY) lacks ${missing.join(' and ')}; the agent needs ${Object.values(SYSTEMD_CREDENTIALS).join(', ')} (LoadCredential= or SetCredential= in its unit).`);
  }
  for (const p of present) checkPrivateFile(p!.path, p!.stats, 'systemd credential', true);
  const relayUrl = await readCredential(paths.relay);
  const username = await readCredential(paths.user);
  checkAccountName(username);
  try {
    new URL(relayUrl);
  } catch {
    throw new KeychainUnavailableError('credentials-incomplete', `The systemd credential ${SYSTEMD_CREDENTIALS.relay} is not a URL; it must hold the relay's address, e.g. https://relay.example:8780.`);
  }
  return { relayUrl, username, password: () => readCredential(paths.password) };
}

/** A credential's text without the line end an editor or `echo` adds. */
async function readCredential(path: string): Promise<string> {
  const text = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  if (text.length === 0) throw new KeychainUnavailableError('credentials-incomplete', `The systemd credential ${path} is empty.`);
  return text;
}

/** Refresh tokens for the life of the process only: with systemd credentials, a restart signs in again. */
export class MemoryCredentialStore implements CredentialStore {
  private readonly items = new Map<string, string>();

  get(account: string): Promise<string | undefined> {
    return Promise.resolve(this.items.get(account));
  }

  set(account: string, secret: string): Promise<void> {
    checkAccountName(account);
    this.items.set(account, secret);
    return Promise.resolve();
  }

  delete(account: string): Promise<boolean> {
    return Promise.resolve(this.items.delete(account));
  }
}
