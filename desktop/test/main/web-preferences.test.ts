// The web preferences every window gets (security/web-preferences.ts), value by value against
// Electron's security checklist.
import { describe, expect, it } from 'vitest';
import { secureWebPreferences } from '../../src/main/security/web-preferences.js';

describe('secureWebPreferences', () => {
  const prefs = secureWebPreferences({ preload: '/app/desktop/dist/preload/preload.cjs', devTools: false });

  it.each([
    ['contextIsolation', true],
    ['sandbox', true],
    ['nodeIntegration', false],
    ['nodeIntegrationInWorker', false],
    ['nodeIntegrationInSubFrames', false],
    ['webSecurity', true],
    ['allowRunningInsecureContent', false],
    ['experimentalFeatures', false],
    ['webviewTag', false],
    ['navigateOnDragDrop', false],
    ['safeDialogs', true],
    ['devTools', false],
  ] as const)('sets %s to %s', (key, value) => {
    expect(prefs[key]).toBe(value);
  });

  it('enables no Blink features and loads the given preload', () => {
    expect(prefs).not.toHaveProperty('enableBlinkFeatures');
    expect(prefs.preload).toBe('/app/desktop/dist/preload/preload.cjs');
  });

  it('has no other key than the reviewed ones', () => {
    expect(Object.keys(prefs).sort()).toEqual([
      'allowRunningInsecureContent', 'autoplayPolicy', 'contextIsolation', 'devTools', 'experimentalFeatures', 'navigateOnDragDrop',
      'nodeIntegration', 'nodeIntegrationInSubFrames', 'nodeIntegrationInWorker', 'preload', 'safeDialogs', 'sandbox', 'spellcheck',
      'webSecurity', 'webviewTag',
    ]);
  });

  it('turns developer tools and spellcheck on only when asked', () => {
    expect(secureWebPreferences({ preload: '/p', devTools: true }).devTools).toBe(true);
    expect(secureWebPreferences({ preload: '/p', devTools: false, spellcheck: false }).spellcheck).toBe(false);
    expect(prefs.spellcheck).toBe(true);
  });
});
