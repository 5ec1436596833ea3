/**
 * Seam for automatic updates. main.ts passes `electronUpdater` (updates/electron-updater.ts): the
 * UpdateController (updates/update-controller.ts) over electron-updater's autoUpdater. The app builds
 * its Updater once IT policy is loaded, configures it at start and on every settings change, and
 * disposes of it at quit. Built without one (a test shell), the `updates` settings are stored but have
 * no effect, which the log says once.
 */
import type { Settings } from '../common/ipc-contract.js';
import type { ShellPolicy } from './policy.js';

export interface Updater {
  /** Called at start and whenever the settings change (the values already carry IT policy's). */
  configure(preferences: Settings['updates']): void;
  dispose(): void;
}

export interface UpdaterContext {
  /** IT policy as loaded at start: whether it fixes updates, or could not be read. */
  policy: ShellPolicy;
  /** The app's log: no patient data. */
  log(line: string): void;
  /** An update is downloaded and installs when RelayPACS quits: the app tells the user. */
  updateReady(version: string): void;
}

export type UpdaterFactory = (context: UpdaterContext) => Updater;
