/**
 * The one function that creates a BrowserWindow. Every window gets the secure web preferences of
 * security/web-preferences.ts and is registered, so the IPC bridge trusts it and sends it events;
 * a window made any other way is neither trusted nor sent anything. (session-hardening.ts still
 * applies to it, through `web-contents-created`.)
 */
import { BrowserWindow } from 'electron';
import { secureWebPreferences } from './security/web-preferences.js';
import type { WindowRegistry } from './window-registry.js';

export interface AppWindowOptions {
  preload: string;
  devTools: boolean;
  registry: WindowRegistry;
  title?: string;
  width?: number;
  height?: number;
}

export function createAppWindow(options: AppWindowOptions): BrowserWindow {
  const window = new BrowserWindow({
    title: options.title ?? 'RelayPACS',
    width: options.width ?? 1180,
    height: options.height ?? 780,
    minWidth: 760,
    minHeight: 520,
    // Shown when the first paint is ready, so the user never sees a white flash.
    show: false,
    backgroundColor: '#f6f7f9',
    autoHideMenuBar: false,
    webPreferences: secureWebPreferences({ preload: options.preload, devTools: options.devTools }),
  });
  options.registry.add(window.webContents);
  return window;
}
