import type * as Keyring from '@napi-rs/keyring';
import { checkAccountName } from './credential-account.js';
import { KeychainUnavailableError, type CredentialStore } from './credential-store.js';
import { explain, keychainFailure, type KeychainOperation } from './keychain-failure.js';

type KeyringBinding = typeof Keyring;

export const DEFAULT_KEYCHAIN_SERVICE = 'RelayPACS';

/**
 * On Linux keyring-rs would otherwise pick a store by itself and, finding no Secret Service, fall
 * back to the kernel keyutils keyring: in memory only (gone at reboot) and readable by anything in
 * the same session keyring. Pinning makes a missing Secret Service an error instead. The option is
 * ignored on macOS and Windows, where there is one keychain.
 */
const ENTRY_OPTIONS: Keyring.EntryOptions = { linux: { store: 'secret-service' } };

/** Platforms whose keychain the binding reaches without a fallback we cannot pin. */
const SUPPORTED = new Set<NodeJS.Platform>(['linux', 'darwin', 'win32']);

/**
 * Read, never written, by the first-use check. Outside the account scheme (credential-account.ts),
 * so no real item has this name; even if one did, the check only looks it up.
 */
const PROBE_ACCOUNT = 'relaypacs-probe';

export interface OsKeychainStoreOptions {
  /** Service name every item is filed under; default 'RelayPACS'. Tests use their own. */
  service?: string;
}

/**
 * The operating system's keychain through @napi-rs/keyring: macOS Keychain, Windows Credential
 * Manager, or on Linux the Secret Service (GNOME Keyring, KWallet, KeePassXC) over the D-Bus
 * session bus. Each item is (service, account) → secret, as the keychain's own attributes: on
 * Linux `service` and `username` (what `secret-tool lookup service RelayPACS username <account>`
 * finds), labelled `keyring:<account>@<service>`.
 *
 * Constructing one opens nothing. The first call loads the native binding and, on Linux, proves a
 * Secret Service answers on the session bus; until that succeeds every call repeats the check and
 * throws KeychainUnavailableError. libdbus reads the bus address once per process, so a session bus
 * started after RelayPACS's first attempt needs a restart of RelayPACS.
 *
 * Calls go through the binding's AsyncEntry, on libuv's thread pool: an unlock prompt the user
 * takes minutes to answer does not block the event loop.
 */
export class OsKeychainStore implements CredentialStore {
  readonly service: string;
  private binding: Promise<KeyringBinding> | undefined;

  constructor(options: OsKeychainStoreOptions = {}) {
    this.service = options.service ?? DEFAULT_KEYCHAIN_SERVICE;
    checkAccountName(this.service);
  }

  async get(account: string): Promise<string | undefined> {
    const entry = await this.entry(account, 'read');
    try {
      return (await entry.getPassword()) ?? undefined;
    } catch (error) {
      throw keychainFailure(error, 'read');
    }
  }

  async set(account: string, secret: string): Promise<void> {
    // An empty secret is a caller's bug (a token that never arrived), not something to keep.
    if (typeof secret !== 'string' || secret.length === 0) throw new RangeError('A credential to keep must be a non-empty string.');
    const entry = await this.entry(account, 'store');
    try {
      await entry.setPassword(secret);
    } catch (error) {
      throw keychainFailure(error, 'store', secret);
    }
  }

  async delete(account: string): Promise<boolean> {
    const entry = await this.entry(account, 'delete');
    try {
      return await entry.deleteCredential();
    } catch (error) {
      throw keychainFailure(error, 'delete');
    }
  }

  private async entry(account: string, operation: KeychainOperation): Promise<Keyring.AsyncEntry> {
    checkAccountName(account);
    const binding = await this.ready();
    try {
      // A pinned entry connects to the bus and the Secret Service as it is made, so it throws here.
      return new binding.AsyncEntry(this.service, account, ENTRY_OPTIONS);
    } catch (error) {
      throw keychainFailure(error, operation);
    }
  }

  /** The binding once the keychain has answered; a failed check is forgotten so the next call retries. */
  private ready(): Promise<KeyringBinding> {
    this.binding ??= this.check().catch((error: unknown) => {
      this.binding = undefined;
      throw error;
    });
    return this.binding;
  }

  private async check(): Promise<KeyringBinding> {
    if (!SUPPORTED.has(process.platform)) throw new KeychainUnavailableError('unsupported-platform', explain('unsupported-platform', 'reach'));
    let binding: KeyringBinding;
    try {
      // Loaded on first use, not at import: importing this module must open nothing, and a missing
      // platform binary must become a coded error rather than crash whatever imported the core.
      binding = await import('@napi-rs/keyring');
    } catch (error) {
      throw new KeychainUnavailableError('backend-not-loadable', explain('backend-not-loadable', 'reach'), error instanceof Error ? error.message : String(error));
    }
    if (process.platform === 'linux') {
      try {
        // Reaching the bus and the Secret Service is proved by making a pinned entry; the lookup
        // of an item that does not exist proves it answers, without ever asking to unlock. Whether
        // a locked keyring can be unlocked is only known when a real item is read or written.
        await new binding.AsyncEntry(this.service, PROBE_ACCOUNT, ENTRY_OPTIONS).getPassword();
      } catch (error) {
        throw keychainFailure(error, 'reach');
      }
    }
    return binding;
  }
}

/**
 * The credential store for this platform: the OS keychain everywhere RelayPACS runs, pinned to the
 * Secret Service on Linux. There is deliberately no file or memory fallback; where no keychain
 * exists, the first call throws KeychainUnavailableError.
 */
export function createCredentialStore(options: OsKeychainStoreOptions = {}): CredentialStore {
  return new OsKeychainStore(options);
}
