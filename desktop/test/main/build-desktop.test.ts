// The Electron build (scripts/build-desktop.ts): main as one ES module that leaves out only
// electron and the native modules, the preload as one CommonJS file that imports nothing but
// electron (a sandboxed preload has no Node module system).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDesktop, MAIN_EXTERNALS, type DesktopBuild } from '../../../scripts/build-desktop.js';

let outDir: string;
let build: DesktopBuild;

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'relaypacs-desktop-build-'));
  build = await buildDesktop({ outDir });
});
afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

describe('build:desktop', () => {
  it('writes main.js and preload.cjs under the output folder', () => {
    expect(build.main).toBe(join(outDir, 'main', 'main.js'));
    expect(build.preload).toBe(join(outDir, 'preload', 'preload.cjs'));
  });

  it('bundles the preload as CommonJS whose only import is electron', async () => {
    expect(build.preloadImports).toEqual(['electron']);
    const preload = await readFile(build.preload, 'utf8');
    expect(preload).toMatch(/require\("electron"\)/);
    expect(preload).not.toMatch(/^\s*(import|export)\s/m);
    expect(preload).toContain('exposeInMainWorld("api"');
  });

  it('bundles main as an ES module leaving out only electron, native modules and Node built-ins', async () => {
    const builtins = new Set(builtinModules);
    const packages = build.mainImports.filter((name) => !name.startsWith('node:') && !builtins.has(name));
    expect(packages.every((name) => (MAIN_EXTERNALS as readonly string[]).includes(name))).toBe(true);
    expect(packages).toContain('electron');
    const main = await readFile(build.main, 'utf8');
    expect(main).toMatch(/^import /m);
    expect(main).toContain('registerSchemesAsPrivileged');
  });

  it('bundles electron-updater, whose require("electron") goes through the bundle\'s own require', async () => {
    expect(build.mainImports).not.toContain('electron-updater');
    const main = await readFile(build.main, 'utf8');
    expect(main).toMatch(/^import \{ createRequire as __relaypacsCreateRequire \} from 'node:module'; const require = /);
    expect(main).toContain('isUserWithinRollout');
    expect(main).toContain('__require("electron").net.request');
  });
});
