/**
 * Where the app's own pages live. The renderer is served from a custom `app://` scheme rather than
 * `file://` (Electron security checklist: "Avoid usage of the file:// protocol and prefer usage of
 * custom protocols"): a file:// page may read any file the user can, an app:// page only what the
 * protocol handler chooses to serve, and it has a real origin to check IPC senders against.
 */
export const APP_SCHEME = 'app';
export const APP_HOST = 'relaypacs';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

/**
 * True when `url` is a page of the app itself (scheme and host match; the path is checked when
 * served). Compares scheme and host rather than `URL.origin`: Node's URL parser, which the main
 * process uses, does not know `app:` is a standard scheme, reports its origin as "null" and does
 * not lower-case its host as Chromium does.
 */
export function isAppUrl(url: string): boolean {
  const parsed = parseUrl(url);
  return parsed !== null && parsed.protocol === `${APP_SCHEME}:` && parsed.host.toLowerCase() === APP_HOST
    && parsed.username === '' && parsed.password === '';
}

export function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}
