// Where pages may navigate and which links may leave the app for the browser
// (security/navigation-policy.ts, security/app-origin.ts).
import { describe, expect, it } from 'vitest';
import { APP_ENTRY_URL, isAppUrl } from '../../src/main/security/app-origin.js';
import { isAllowedNavigation, normalizeOrigin, vetExternalUrl } from '../../src/main/security/navigation-policy.js';

describe('isAllowedNavigation', () => {
  it.each([APP_ENTRY_URL, 'app://relaypacs/', 'app://relaypacs/index.html#/queue', 'app://RELAYPACS/index.html'])('allows the app page %s', (url) => {
    expect(isAllowedNavigation(url)).toBe(true);
  });

  it.each([
    'https://relay.hospital.example/',
    'http://127.0.0.1:8780/',
    'file:///etc/passwd',
    'file:///work/main/desktop/dist/renderer/index.html',
    'app://evil/index.html',
    'app://relaypacs.evil.example/index.html',
    'app://user:pass@relaypacs/index.html',
    'app://relaypacs:8080/index.html',
    'javascript:alert(1)',
    'data:text/html,<script>1</script>',
    'about:blank',
    'devtools://devtools/bundled/inspector.html',
    'chrome://settings',
    'not a url',
    '',
  ])('refuses %s', (url) => {
    expect(isAllowedNavigation(url)).toBe(false);
    expect(isAppUrl(url)).toBe(false);
  });
});

describe('vetExternalUrl', () => {
  const allowed = ['https://relay.hospital.example:8780', 'https://help.hospital.example/some/page'];

  it('passes https URLs of an allowed origin, as the parser serialises them', () => {
    expect(vetExternalUrl('https://relay.hospital.example:8780/admin?x=1', allowed)).toBe('https://relay.hospital.example:8780/admin?x=1');
    expect(vetExternalUrl('https://HELP.hospital.example/guide', allowed)).toBe('https://help.hospital.example/guide');
  });

  it.each([
    ['another origin', 'https://evil.example/'],
    ['a look-alike host', 'https://relay.hospital.example.evil.example:8780/'],
    ['another port of an allowed host', 'https://relay.hospital.example/'],
    ['plain http of an allowed host', 'http://relay.hospital.example:8780/'],
    ['credentials in the URL', 'https://user:pw@relay.hospital.example:8780/'],
    ['file:', 'file:///C:/Windows/System32/calc.exe'],
    ['smb:', 'smb://relay.hospital.example/share'],
    ['javascript:', 'javascript:alert(1)'],
    ['a custom handler', 'ms-msdt:/id PCWDiagnostic'],
    ['garbage', 'https://'],
  ])('refuses %s', (_name, url) => {
    expect(vetExternalUrl(url, allowed)).toBeNull();
  });

  it('refuses everything when nothing is allowed', () => {
    expect(vetExternalUrl('https://relay.hospital.example:8780/', [])).toBeNull();
  });

  it('takes only https origins from configured URLs', () => {
    expect(normalizeOrigin('https://relay.hospital.example:8780/base/')).toBe('https://relay.hospital.example:8780');
    expect(normalizeOrigin('http://127.0.0.1:8780')).toBeNull();
    expect(normalizeOrigin('')).toBeNull();
    expect(vetExternalUrl('http://127.0.0.1:8780/', ['http://127.0.0.1:8780'])).toBeNull();
  });
});
