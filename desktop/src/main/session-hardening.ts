/**
 * Hardening applied to every session and every webContents the app has, including ones it did not
 * create on purpose (`app.on('session-created')`, `app.on('web-contents-created')`), so a window or
 * view added later is covered without remembering to. Items of Electron's security checklist:
 * 5 (permissions denied by default), 7 (CSP header), 12 (<webview> refused), 13 (navigation
 * limited to the app), 14 (new windows denied), 15 (openExternal only for vetted https URLs).
 */
import type { Session, WebContents } from 'electron';
import { isAppUrl } from './security/app-origin.js';
import { withContentSecurityPolicy } from './security/content-security-policy.js';
import { isAllowedNavigation, vetExternalUrl } from './security/navigation-policy.js';

export interface ExternalLinks {
  /** https origins a link may open in the user's browser (the relay's, and any IT policy adds). */
  allowedOrigins(): Promise<readonly string[]>;
  openExternal(url: string): Promise<void>;
}

type Log = (line: string) => void;

/** Only the scheme and host of a refused URL are logged: paths and queries could carry anything. */
function describe(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return 'an unparsable URL';
  }
}

const hardened = new WeakSet<Session>();

export function hardenSession(session: Session, log: Log): void {
  if (hardened.has(session)) return;
  hardened.add(session);
  // The app needs no web permission (camera, notifications from the page, geolocation, USB...):
  // OS notifications are shown by main. Every request and every check is answered "no".
  session.setPermissionRequestHandler((_contents, permission, callback) => {
    log(`security: denied the page's request for the "${permission}" permission`);
    callback(false);
  });
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
  session.setDisplayMediaRequestHandler((_request, callback) => callback({}));
  // Second layer beside the renderer's <meta> policy.
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: withContentSecurityPolicy(details.responseHeaders) });
  });
  // Saving is allowed for what the page itself produced (the history CSV as a blob: or data: URL
  // of the app); anything else would be a download from elsewhere, which the app never starts.
  session.on('will-download', (event, item) => {
    const url = item.getURL();
    const local = url.startsWith('data:') || (url.startsWith('blob:') && isAppUrl(url.slice('blob:'.length)));
    if (!local) {
      log(`security: refused a download from ${describe(url)}`);
      event.preventDefault();
    }
  });
}

const hardenedContents = new WeakSet<WebContents>();

export function hardenWebContents(contents: WebContents, links: ExternalLinks, log: Log): void {
  if (hardenedContents.has(contents)) return;
  hardenedContents.add(contents);
  const openIfVetted = async (url: string) => {
    const vetted = vetExternalUrl(url, await links.allowedOrigins());
    if (vetted) await links.openExternal(vetted);
    else log(`security: refused to open ${describe(url)} outside the app`);
  };
  const refuseNavigation = (kind: string) => (event: { url: string; preventDefault(): void }) => {
    if (isAllowedNavigation(event.url)) return;
    event.preventDefault();
    log(`security: refused ${kind} to ${describe(event.url)}`);
  };
  contents.on('will-navigate', (event) => {
    if (isAllowedNavigation(event.url)) return;
    event.preventDefault();
    // A plain link to an allowed page (e.g. the relay's web pages) opens in the browser instead.
    void openIfVetted(event.url).catch(() => undefined);
  });
  contents.on('will-frame-navigate', refuseNavigation('a frame navigation'));
  contents.on('will-redirect', refuseNavigation('a redirect'));
  contents.setWindowOpenHandler(({ url }) => {
    void openIfVetted(url).catch(() => undefined);
    return { action: 'deny' };
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    log('security: refused to attach a <webview>');
  });
}
