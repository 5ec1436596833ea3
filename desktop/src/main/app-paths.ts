/**
 * Where the built app's parts are, relative to the built main script (desktop/dist/main/main.js):
 * scripts/build-desktop.ts writes main, preload and (with the renderer's build) the renderer side by
 * side under desktop/dist, in a checkout and inside the packaged app's asar alike.
 */
import { dirname, join } from 'node:path';

export interface AppPaths {
  /** desktop/dist */
  distDir: string;
  /** The sandboxed CommonJS preload. */
  preload: string;
  /** The folder app://relaypacs serves. */
  rendererDir: string;
}

export function appPaths(mainDir: string): AppPaths {
  const distDir = dirname(mainDir);
  return { distDir, preload: join(distDir, 'preload', 'preload.cjs'), rendererDir: join(distDir, 'renderer') };
}
