// The app:// path resolver (security/app-asset-path.ts): serves files inside the renderer folder
// and nothing else.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveAppAsset } from '../../src/main/security/app-asset-path.js';

const root = resolve('/opt/relaypacs/desktop/dist/renderer');

describe('resolveAppAsset', () => {
  it.each([
    ['app://relaypacs/', 'index.html', 'text/html; charset=utf-8'],
    ['app://relaypacs/index.html', 'index.html', 'text/html; charset=utf-8'],
    ['app://relaypacs/index.html?x=1#/queue', 'index.html', 'text/html; charset=utf-8'],
    ['app://relaypacs/assets/main-3f2a.js', 'assets/main-3f2a.js', 'text/javascript; charset=utf-8'],
    ['app://relaypacs/assets/main.css', 'assets/main.css', 'text/css; charset=utf-8'],
    ['app://relaypacs/assets/a%20font.woff2', 'assets/a font.woff2', 'font/woff2'],
    ['app://RelayPACS/index.html', 'index.html', 'text/html; charset=utf-8'],
  ])('serves %s', (url, file, contentType) => {
    expect(resolveAppAsset(root, url)).toEqual({ ok: true, path: join(root, file), contentType });
  });

  it.each([
    ['encoded slashes', 'app://relaypacs/..%2f..%2f..%2fetc%2fpasswd.txt'],
    ['encoded slashes after a folder', 'app://relaypacs/assets/..%2F..%2F..%2Fsecret.json'],
    ['encoded backslashes', 'app://relaypacs/..%5c..%5csecret.json'],
    ['a raw backslash', 'app://relaypacs/assets\\..\\..\\secret.json'],
    ['an absolute path', 'app://relaypacs//etc/passwd.txt'],
    ['an encoded absolute path', 'app://relaypacs/%2fetc%2fpasswd.txt'],
    ['a drive letter', 'app://relaypacs/C:/Windows/win.ini.txt'],
    ['an encoded drive letter', 'app://relaypacs/C%3A%5CWindows%5Cwin.ini.txt'],
    ['a NUL byte', 'app://relaypacs/index.html%00.png'],
    ['broken percent-encoding', 'app://relaypacs/%E0%A4%A.js'],
    ['another host', 'app://other/index.html'],
    ['another scheme', 'file:///opt/relaypacs/desktop/dist/renderer/index.html'],
  ])('refuses %s', (_name, url) => {
    const asset = resolveAppAsset(root, url);
    expect(asset.ok).toBe(false);
    if (asset.ok) return;
    // Whatever is refused, nothing outside the root is ever named.
    expect(asset.status === 400 || asset.status === 404).toBe(true);
  });

  it.each([
    ['dot-dot segments', 'app://relaypacs/../../../etc/passwd.txt', 'etc/passwd.txt'],
    ['percent-encoded dot-dot segments', 'app://relaypacs/%2e%2e/%2E%2E/.%2e/etc/passwd.txt', 'etc/passwd.txt'],
    ['dot-dot after a folder', 'app://relaypacs/assets/../../secret.json', 'secret.json'],
  ])('keeps %s inside the root (the URL parser folds them before the handler sees the path)', (_name, url, inside) => {
    expect(resolveAppAsset(root, url)).toMatchObject({ ok: true, path: join(root, inside) });
  });

  it('decodes once: a double-encoded dot-dot is a literal folder name inside the root', () => {
    expect(resolveAppAsset(root, 'app://relaypacs/%252e%252e/secret.json')).toMatchObject({ ok: true, path: join(root, '%2e%2e', 'secret.json') });
  });

  it('serves only known file types (404 otherwise)', () => {
    expect(resolveAppAsset(root, 'app://relaypacs/assets/data.bin')).toEqual({ ok: false, status: 404 });
    expect(resolveAppAsset(root, 'app://relaypacs/assets')).toEqual({ ok: false, status: 404 });
  });

  it('never resolves outside the root, whatever the input', () => {
    const tricky = ['..', '%2e%2e', '%2E%2E', '.%2e', '%2e.', '..%2f', '..%5c', '%2f', '%5c', '%00', 'C:', '~', '.'];
    for (const a of tricky) {
      for (const b of tricky) {
        const asset = resolveAppAsset(root, `app://relaypacs/${a}/${b}/x.js`);
        if (asset.ok) expect(asset.path.startsWith(`${root}/`) || asset.path.startsWith(`${root}\\`)).toBe(true);
      }
    }
  });
});
