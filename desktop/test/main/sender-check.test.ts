// The IPC sender check (security/sender-check.ts): only the main frame of a window the app made,
// showing an app:// page.
import { describe, expect, it } from 'vitest';
import { isTrustedSender } from '../../src/main/security/sender-check.js';

const trusted = { frameUrl: 'app://relaypacs/index.html', isMainFrame: true, isOwnWindow: true };

describe('isTrustedSender', () => {
  it('trusts the main frame of an app window on an app page', () => {
    expect(isTrustedSender(trusted)).toBe(true);
    expect(isTrustedSender({ ...trusted, frameUrl: 'app://relaypacs/index.html#/history' })).toBe(true);
  });

  it.each([
    ['a subframe', { ...trusted, isMainFrame: false }],
    ['a webContents the app did not create', { ...trusted, isOwnWindow: false }],
    ['a frame that is gone', { ...trusted, frameUrl: null }],
    ['a remote page', { ...trusted, frameUrl: 'https://evil.example/' }],
    ['a file:// page', { ...trusted, frameUrl: 'file:///work/main/desktop/dist/renderer/index.html' }],
    ['another app:// host', { ...trusted, frameUrl: 'app://other/index.html' }],
    ['about:blank', { ...trusted, frameUrl: 'about:blank' }],
    ['a data: page', { ...trusted, frameUrl: 'data:text/html,hi' }],
    ['devtools', { ...trusted, frameUrl: 'devtools://devtools/bundled/inspector.html' }],
  ])('refuses %s', (_name, facts) => {
    expect(isTrustedSender(facts)).toBe(false);
  });
});
