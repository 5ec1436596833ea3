/**
 * Maps an `app://relaypacs/...` request to a file of the built renderer, or refuses it. The
 * protocol handler serves only what this returns, so a page (or anything that can make the page
 * fetch) cannot read outside desktop/dist/renderer: `..` segments, their percent-encoded forms
 * (`%2e%2e`, `..%2f`), backslashes, NUL bytes, drive letters and absolute paths are refused, and the
 * resolved path must still lie inside the root. Symlinks inside the root are not followed out of it
 * by this check; the build writes none.
 */
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { APP_HOST, APP_SCHEME, parseUrl } from './app-origin.js';

export type AppAsset = { ok: true; path: string; contentType: string } | { ok: false; status: 400 | 404 };

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

export function resolveAppAsset(rootDir: string, requestUrl: string): AppAsset {
  const url = parseUrl(requestUrl);
  if (!url || url.protocol !== `${APP_SCHEME}:` || url.host.toLowerCase() !== APP_HOST) return { ok: false, status: 400 };
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    return { ok: false, status: 400 };
  }
  if (path === '/' || path === '') path = '/index.html';
  if (!path.startsWith('/') || path.startsWith('//')) return { ok: false, status: 400 };
  const relativePath = path.slice(1);
  const segments = relativePath.split('/');
  if (relativePath.includes('\\') || relativePath.includes('\0') || /^[a-zA-Z]:/.test(relativePath) || isAbsolute(relativePath)
    || segments.some((s) => s === '..' || s === '.' || s === '')) {
    return { ok: false, status: 400 };
  }
  const root = resolve(rootDir);
  const full = resolve(root, ...segments);
  const inside = relative(root, full);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside) || !full.startsWith(root + sep)) return { ok: false, status: 400 };
  const contentType = CONTENT_TYPES[extname(full).toLowerCase()];
  if (!contentType) return { ok: false, status: 404 };
  return { ok: true, path: full, contentType };
}
