/**
 * Account names of keychain items. All RelayPACS items share one service name ('RelayPACS' by
 * default); the account says which secret an item holds, one item per relay and purpose:
 *
 *   relay:<origin>/user:<user name>   the refresh token of that user at that relay
 *   relay:<origin>/device             this workstation's device secret at that relay
 *
 * e.g. `relay:https://relay.example:8780/user:alice`. <origin> is the URL origin (scheme, lower-case
 * host, port; the scheme's default port dropped; no path), so every spelling of one relay's address
 * names the same item and a path or trailing slash cannot split it (one relay per origin is assumed:
 * two relays under different paths of one origin would share items). Parsing back is unambiguous,
 * since an origin holds no '/' and everything after '/user:' is the user name. The user name is
 * kept as typed: the relay decides whether names are case-sensitive. Names are visible in keychain
 * managers (seahorse, Keychain Access), so they hold no PHI and never the secret.
 */

/** The refresh-token item of `username` at the relay `relayUrl`. */
export function userAccount(relayUrl: string, username: string): string {
  if (username.length === 0 || hasControl(username)) throw new RangeError('A user name for the keychain must be non-empty and without control characters.');
  return `relay:${relayOrigin(relayUrl)}/user:${username}`;
}

/** The device-secret item of this workstation at the relay `relayUrl`. */
export function deviceAccount(relayUrl: string): string {
  return `relay:${relayOrigin(relayUrl)}/device`;
}

/** C0 controls and DEL (checked by code point: a regex of control characters is itself unreadable). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x20 || unit === 0x7f) return true;
  }
  return false;
}

/** Limit on any account name: far above what the scheme produces, below every keychain's limit. */
export const MAX_ACCOUNT_LENGTH = 1024;

/**
 * Rejects what no keychain item should be named: empty, overlong, or with control characters
 * (which keychain managers display badly and some backends refuse).
 */
export function checkAccountName(account: string): void {
  if (typeof account !== 'string' || account.length === 0 || account.length > MAX_ACCOUNT_LENGTH || hasControl(account)) {
    throw new RangeError(`A keychain account name must be 1 to ${MAX_ACCOUNT_LENGTH} characters without control characters.`);
  }
}

function relayOrigin(relayUrl: string): string {
  let url: URL;
  try {
    url = new URL(relayUrl);
  } catch {
    throw new RangeError('The relay address is not a valid URL.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RangeError('The relay address must start with https:// or http://.');
  return url.origin;
}
