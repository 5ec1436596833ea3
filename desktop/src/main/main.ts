/**
 * Entry of the Electron main process, bundled by scripts/build-desktop.ts to
 * desktop/dist/main/main.js (package.json "main"). Everything happens in desktop-app.ts.
 */
import { appPaths } from './app-paths.js';
import { runDesktopApp } from './desktop-app.js';
import { machinePolicySource } from './machine-policy.js';
import { electronUpdater } from './updates/electron-updater.js';

runDesktopApp({ paths: appPaths(import.meta.dirname), policySource: machinePolicySource(), updater: electronUpdater });
