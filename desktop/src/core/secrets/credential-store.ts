import type { ErrorCode } from '../../common/error-codes.js';

/**
 * Where RelayPACS keeps the few secrets it must remember between runs: refresh tokens and device
 * secrets, one per account name (see credential-account.ts). Nothing secret goes into SQLite,
 * config files or logs; this is the only place. Implementations never fall back to a weaker store:
 * when the real one is missing they throw KeychainUnavailableError.
 */
export interface CredentialStore {
  /** The secret stored for `account`, or undefined when there is none. */
  get(account: string): Promise<string | undefined>;
  /** Stores `secret` for `account`, replacing any previous one. */
  set(account: string, secret: string): Promise<void>;
  /** Removes the secret for `account`: true if one was there, false if there was nothing to remove. */
  delete(account: string): Promise<boolean>;
}

/** Why the keychain could not be used; `message` says what IT should do about each. */
export type KeychainUnavailableReason =
  /** RelayPACS has no keychain adapter for this operating system. */
  | 'unsupported-platform'
  /** The native keychain binding did not load (damaged or incomplete installation). */
  | 'backend-not-loadable'
  /** Linux: no D-Bus session bus (not set, or its address leads nowhere). */
  | 'no-session-bus'
  /** Linux: a session bus, but nothing on it provides org.freedesktop.secrets. */
  | 'no-secret-service'
  /** Linux: the Secret Service has no default keyring to create items in. */
  | 'no-default-keyring'
  /** The keyring is locked and could not be unlocked (prompt dismissed or impossible). */
  | 'locked'
  /** The keychain answered with a failure of its own. */
  | 'backend-error'
  /** The agent's credential file (file-credential-store.ts) or a systemd credential is readable by others or not the user's own. */
  | 'file-unsafe'
  /** IT policy (allowFileCredentialStore: false) forbids the credential file. */
  | 'file-forbidden'
  /** $CREDENTIALS_DIRECTORY holds RelayPACS credentials, but not all the agent needs. */
  | 'credentials-incomplete';

/**
 * The credential store cannot be used (the keychain, or for the headless agent the store chosen
 * instead of it), so credentials cannot be kept safely. `message` is a sentence for IT
 * (what is missing and how to provide it); the radiographer sees ERROR_CODES.KEYCHAIN_UNAVAILABLE.
 * `detail` is the keychain's own words, with any secret removed. Neither ever holds the secret.
 */
export class KeychainUnavailableError extends Error {
  readonly code = 'KEYCHAIN_UNAVAILABLE' satisfies ErrorCode;

  constructor(
    readonly reason: KeychainUnavailableReason,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'KeychainUnavailableError';
  }
}
