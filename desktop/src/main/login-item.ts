/**
 * Start at login (the `startAtLogin` setting; IT policy may fix it, and the settings then already
 * carry its value). Windows and macOS: Electron's login items. Linux: an XDG autostart entry
 * (login/xdg-autostart.ts), written or removed whenever the settings are applied. Elsewhere it is
 * not set up (said once in the log). A login start opens hidden, in the tray.
 */
import { homedir } from 'node:os';
import { app } from 'electron';
import { applyXdgAutostart, autostartEntryPath, launchCommand } from './login/xdg-autostart.js';

export const OPENED_AT_LOGIN_ARG = '--hidden';

let saidUnsupported = false;
// Settings can be applied twice in quick succession (start, then a change): the files follow in order.
let linuxChanges: Promise<void> = Promise.resolve();

export function applyStartAtLogin(enabled: boolean, log: (line: string) => void): void {
  if (process.platform === 'linux') {
    linuxChanges = linuxChanges.then(() => applyLinuxAutostart(enabled, log));
    return;
  }
  if (process.platform !== 'win32' && process.platform !== 'darwin') {
    if (enabled && !saidUnsupported) log('start at login: not set up on this platform; add RelayPACS to the desktop session\'s autostart');
    saidUnsupported = true;
    return;
  }
  const current = app.getLoginItemSettings({ args: [OPENED_AT_LOGIN_ARG] }).openAtLogin;
  if (current !== enabled) app.setLoginItemSettings({ openAtLogin: enabled, args: [OPENED_AT_LOGIN_ARG] });
}

async function applyLinuxAutostart(enabled: boolean, log: (line: string) => void): Promise<void> {
  try {
    const path = autostartEntryPath(process.env, homedir());
    const command = launchCommand({ execPath: process.execPath, env: process.env, isPackaged: app.isPackaged, appPath: app.getAppPath(), args: [OPENED_AT_LOGIN_ARG] });
    const change = await applyXdgAutostart(enabled, { path, command });
    if (change === 'written') log('start at login: added to the desktop session\'s autostart');
    if (change === 'removed') log('start at login: removed from the desktop session\'s autostart');
  } catch (error) {
    // The error code only: the path names the user's home folder.
    const code = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.name : 'error');
    log(`start at login: the autostart entry could not be ${enabled ? 'written' : 'removed'} (${code})`);
  }
}

export function wasOpenedAtLogin(): boolean {
  if (process.argv.includes(OPENED_AT_LOGIN_ARG)) return true;
  return process.platform === 'darwin' && app.getLoginItemSettings().wasOpenedAtLogin === true;
}
