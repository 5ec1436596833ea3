/**
 * Serves the built renderer (desktop/dist/renderer) on app://relaypacs (Electron security
 * checklist item 18: a custom protocol instead of file://). Only files security/app-asset-path.ts
 * resolves inside the renderer folder are served, GET and HEAD only, each with the app's
 * Content-Security-Policy and nosniff.
 */
import { readFile } from 'node:fs/promises';
import { protocol, type Session } from 'electron';
import { APP_SCHEME } from './security/app-origin.js';
import { resolveAppAsset } from './security/app-asset-path.js';
import { CONTENT_SECURITY_POLICY } from './security/content-security-policy.js';

/**
 * Must run before the app is ready. `standard` gives app:// real origins and relative URLs,
 * `secure` makes it a secure context like https; no `bypassCSP`, no service workers.
 */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true } },
  ]);
}

export function serveAppProtocol(session: Session, rendererDir: string): void {
  session.protocol.handle(APP_SCHEME, async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return new Response(null, { status: 405 });
    const asset = resolveAppAsset(rendererDir, request.url);
    if (!asset.ok) return new Response(null, { status: asset.status });
    let body: Buffer;
    try {
      body = await readFile(asset.path);
    } catch {
      return new Response(null, { status: 404 });
    }
    return new Response(request.method === 'HEAD' ? null : new Uint8Array(body), {
      status: 200,
      headers: {
        'Content-Type': asset.contentType,
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'no-store',
      },
    });
  });
}
