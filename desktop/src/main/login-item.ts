/**
 * Start at login (the `startAtLogin` setting; IT policy may fix it). Electron's login items exist
 * on Windows and macOS; on Linux the desktop session's autostart folder is the place, which this
 * does not write yet (said once in the log). A login start opens hidden, in the tray.
 */
import { app } from 'electron';

export const OPENED_AT_LOGIN_ARG = '--hidden';

let saidUnsupported = false;

export function applyStartAtLogin(enabled: boolean, log: (line: string) => void): void {
  if (process.platform !== 'win32' && process.platform !== 'darwin') {
    if (enabled && !saidUnsupported) log('start at login: not set up on this platform; add RelayPACS to the desktop session\'s autostart');
    saidUnsupported = true;
    return;
  }
  const current = app.getLoginItemSettings({ args: [OPENED_AT_LOGIN_ARG] }).openAtLogin;
  if (current !== enabled) app.setLoginItemSettings({ openAtLogin: enabled, args: [OPENED_AT_LOGIN_ARG] });
}

export function wasOpenedAtLogin(): boolean {
  if (process.argv.includes(OPENED_AT_LOGIN_ARG)) return true;
  return process.platform === 'darwin' && app.getLoginItemSettings().wasOpenedAtLogin === true;
}
