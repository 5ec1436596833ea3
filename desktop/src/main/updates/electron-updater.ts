/**
 * The real Updater: UpdateController over electron-updater's autoUpdater, with this process's install
 * kind and machine id. electron-updater is bundled into main (scripts/build-desktop.ts); its lazy
 * require('electron') calls resolve through the bundle's require, where electron stays external.
 */
import { access } from 'node:fs/promises';
import { app } from 'electron';
import electronUpdaterModule from 'electron-updater';
import { execFileRunner } from '../../core/policy/command-runner.js';
import { readFileOrNull } from '../../core/policy/load-policy.js';
import { detectInstallKind } from '../../core/updates/install-kind.js';
import { readMachineId } from '../../core/updates/machine-id.js';
import { updatePolicyFromSettings } from '../../core/updates/update-decision.js';
import type { UpdaterFactory } from '../updater.js';
import { UpdateController } from './update-controller.js';

export const electronUpdater: UpdaterFactory = (context) => new UpdateController({
  // The autoUpdater getter creates the platform's updater (NSIS, macOS, AppImage) on first use.
  updater: () => electronUpdaterModule.autoUpdater,
  installKind: () => detectInstallKind({
    platform: process.platform,
    isPackaged: app.isPackaged,
    execPath: process.execPath,
    env: process.env,
    exists: (path) => access(path).then(() => true, () => false),
    run: execFileRunner,
  }),
  machineId: () => readMachineId({ platform: process.platform, run: execFileRunner, readFile: readFileOrNull }),
  policy: updatePolicyFromSettings(context.policy),
  log: context.log,
  onUpdateReady: (version) => context.updateReady(version),
});
