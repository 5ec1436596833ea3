import { KeychainUnavailableError, type KeychainUnavailableReason } from './credential-store.js';

/** What the store was doing when the keychain failed, for the message. */
export type KeychainOperation = 'reach' | 'read' | 'store' | 'delete';

const VERB: Record<KeychainOperation, string> = { reach: 'answer', read: 'read the credential', store: 'store the credential', delete: 'delete the credential' };

/**
 * The keychain binding (@napi-rs/keyring over keyring-rs) reports every failure with the same code
 * ('GenericFailure') and a message built from keyring-rs's error and, on Linux, libdbus's or the
 * Secret Service's own words. Those words are the only way to tell a missing bus from a locked
 * keyring, so they are matched here, in one place, against the texts seen from the pinned version.
 */
const PATTERNS: ReadonlyArray<[KeychainUnavailableReason, RegExp]> = [
  // libdbus: no address and no $XDG_RUNTIME_DIR/bus ("... autolaunch ... set your DBUS_SESSION_BUS_ADDRESS"),
  // or an address whose socket is gone ("Failed to connect to socket ...").
  ['no-session-bus', /DBUS_SESSION_BUS_ADDRESS|autolaunch|Failed to connect to socket/i],
  // The bus has no owner for org.freedesktop.secrets and cannot activate one.
  ['no-secret-service', /org\.freedesktop\.secrets|ServiceUnknown|NameHasNoOwner|not provided by any \.service files/i],
  // An unlock prompt was needed: dismissed by the user, or no prompter could be shown.
  ['locked', /prompt was dismissed|IsLocked|is locked/i],
  // The Secret Service has no collection behind the 'default' alias.
  ['no-default-keyring', /Secret Service: no result found/i],
];

/**
 * Turns whatever the binding threw into a KeychainUnavailableError with a sentence IT can act on.
 * `secret`, when given, is cut out of the keychain's words before they are kept as `detail`.
 */
export function keychainFailure(error: unknown, operation: KeychainOperation, secret?: string, env: NodeJS.ProcessEnv = process.env): KeychainUnavailableError {
  const detail = redact(error instanceof Error ? error.message : String(error), secret);
  const reason = PATTERNS.find(([, pattern]) => pattern.test(detail))?.[0] ?? 'backend-error';
  return new KeychainUnavailableError(reason, explain(reason, operation, env), detail);
}

export function explain(reason: KeychainUnavailableReason, operation: KeychainOperation, env: NodeJS.ProcessEnv = process.env): string {
  switch (reason) {
    case 'unsupported-platform':
      return `RelayPACS has no system keychain adapter for ${process.platform}; credentials can be kept only on Windows, macOS, or Linux with a Secret Service.`;
    case 'backend-not-loadable':
      return `The keychain component for ${process.platform}-${process.arch} could not be loaded, so the installation is incomplete or damaged; reinstall RelayPACS.`;
    case 'no-session-bus':
      return env.DBUS_SESSION_BUS_ADDRESS
        ? 'The D-Bus session bus named by DBUS_SESSION_BUS_ADDRESS cannot be reached. Log out and in again (or restart the session bus), then restart RelayPACS.'
        : 'There is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set and there is no user bus in $XDG_RUNTIME_DIR), so the Secret Service that holds credentials cannot be reached. Start RelayPACS from a desktop login, or run it under `dbus-run-session` with an unlocked gnome-keyring-daemon.';
    case 'no-secret-service':
      return 'No Secret Service is running on the D-Bus session bus (nothing provides org.freedesktop.secrets). Install and start a keyring such as GNOME Keyring (package gnome-keyring) or KWallet with its Secret Service enabled; RelayPACS keeps credentials nowhere else.';
    case 'no-default-keyring':
      return "The Secret Service has no default keyring to keep credentials in. Create a default ('login') keyring, for example in Passwords and Keys (seahorse), then try again.";
    case 'locked':
      return 'The keyring is locked and could not be unlocked (the unlock prompt was dismissed or could not be shown). Unlock the login keyring, for example by signing in to the desktop with a password or in Passwords and Keys (seahorse), then try again.';
    case 'backend-error':
      return `The system keychain did not ${VERB[operation]}. Check the keychain service (its log names the failure given as detail) and that no other program created duplicate RelayPACS entries.`;
    // The stores that raise these three give a sentence naming the file; these are the fallbacks.
    case 'file-unsafe':
      return 'The credential file can be read by other users or belongs to another user, so RelayPACS does not use it. Make it the agent user\'s own with mode 0600 (chmod 600 FILE).';
    case 'file-forbidden':
      return 'IT policy (allowFileCredentialStore: false) forbids keeping credentials in a file, so RelayPACS keeps them only in the system keychain or takes them from systemd credentials.';
    case 'credentials-incomplete':
      return 'The systemd credentials directory ($CREDENTIALS_DIRECTORY) lacks a RelayPACS credential the agent needs (relaypacs-relay, relaypacs-user and relaypacs-password).';
  }
}

function redact(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join('[secret]') : text;
}
