import type { WebPreferences } from 'electron';

export interface SecureWebPreferencesOptions {
  /** Absolute path of the bundled, CommonJS preload (sandboxed preloads cannot be ES modules). */
  preload: string;
  /** Developer tools: on in development, off in packaged builds. */
  devTools: boolean;
  /** The sign-in and settings forms take free text (relay URL, user names). */
  spellcheck?: boolean;
}

/**
 * The web preferences of every window the app opens, in one place (Electron security checklist
 * items 2, 3, 4, 6, 8, 9, 10 and 11). Each value is written out even where it is Electron 45's
 * default, so a changed default or a careless edit shows up in review and in the unit test that
 * asserts every one of them. Nothing here is configurable except the preload path, devtools and
 * spellcheck.
 */
export function secureWebPreferences(options: SecureWebPreferencesOptions): WebPreferences {
  return {
    preload: options.preload,
    // The page's JavaScript and the preload's run in separate worlds; window.api crosses by contextBridge.
    contextIsolation: true,
    // The renderer is an OS-sandboxed Chromium process; the preload gets only the sandboxed Electron modules.
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    // No <webview>: the app never embeds other content (will-attach-webview is refused as well).
    webviewTag: false,
    // enableBlinkFeatures is deliberately absent (checklist item 10): no Blink features beyond the defaults.
    navigateOnDragDrop: false,
    safeDialogs: true,
    autoplayPolicy: 'document-user-activation-required',
    spellcheck: options.spellcheck ?? true,
    devTools: options.devTools,
  };
}
