/**
 * What a page of the app may navigate to and which links leave the app (Electron security
 * checklist items 13, 14 and 15). Pure functions over URL strings so the rules are unit-tested;
 * session-hardening.ts applies them to every webContents.
 */
import { isAppUrl, parseUrl } from './app-origin.js';

/** A navigation (will-navigate, will-frame-navigate, will-redirect) may only stay inside the app. */
export function isAllowedNavigation(url: string): boolean {
  return isAppUrl(url);
}

/**
 * Returns the URL to hand to `shell.openExternal`, or null when it must not be opened. Only https
 * URLs whose origin is on the allow-list (the signed-in relay's origin, origins IT policy adds) pass;
 * credentials in the URL, other schemes (file:, smb:, javascript:, custom handlers that launch
 * programs) and look-alike hosts are refused. The returned string is the parser's serialisation, so
 * what is opened is exactly what was checked.
 */
export function vetExternalUrl(url: string, allowedOrigins: readonly string[]): string | null {
  const parsed = parseUrl(url);
  if (!parsed || parsed.protocol !== 'https:') return null;
  if (parsed.username !== '' || parsed.password !== '') return null;
  const allowed = new Set(allowedOrigins.map(normalizeOrigin).filter((o): o is string => o !== null));
  return allowed.has(parsed.origin) ? parsed.href : null;
}

/** The https origin of a configured URL (e.g. the relay URL), or null when it is not https. */
export function normalizeOrigin(url: string): string | null {
  const parsed = parseUrl(url);
  return parsed && parsed.protocol === 'https:' ? parsed.origin : null;
}
