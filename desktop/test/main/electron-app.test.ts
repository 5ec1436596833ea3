// The real Electron app, built and launched through Playwright's Electron driver: every window has
// the secure web preferences, window.api is exactly the contract, navigation away and new windows
// are refused, and the sign-in screen shows. Runs only where an Electron binary exists; it is
// looked for without downloading (scripts/electron-binary.ts), and where there is none the test is
// reported as skipped, with the reason on the console.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { _electron, type ElectronApplication, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_CHANNELS, INVOKE_CHANNELS } from '../../src/common/ipc-contract.js';
import { buildDesktop } from '../../../scripts/build-desktop.js';
import { buildRenderer } from '../../../scripts/build-renderer.js';
import { findElectronBinary } from '../../../scripts/electron-binary.js';

const repoRoot = join(import.meta.dirname, '../../..');
const lookup = findElectronBinary();
const noDisplay = process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY;
const skipReason = !lookup.found ? `no Electron binary (cannot be downloaded offline): ${lookup.reason}`
  : noDisplay ? 'no display for the Electron window (set DISPLAY, e.g. run under xvfb-run)' : null;
if (skipReason) console.log(`electron-app.test.ts skipped: ${skipReason}`);

let buildDir: string;
let dataDir: string;
let app: ElectronApplication;
let page: Page;
let output = '';

describe.skipIf(skipReason !== null)('the Electron app', () => {
  beforeAll(async () => {
    if (!lookup.found) return;
    // Inside the repository, so the bundle's external modules (better-sqlite3, ...) resolve from
    // its node_modules; its own package.json makes main.js an ES module, as the root's does.
    const cache = join(repoRoot, 'node_modules', '.cache');
    await mkdir(cache, { recursive: true });
    buildDir = await mkdtemp(join(cache, 'relaypacs-electron-e2e-'));
    dataDir = await mkdtemp(join(cache, 'relaypacs-electron-data-'));
    await buildDesktop({ outDir: buildDir });
    await buildRenderer({ outDir: join(buildDir, 'renderer') });
    await writeFile(join(buildDir, 'package.json'), JSON.stringify({ name: 'relaypacs-e2e', type: 'module', main: 'main/main.js' }));
    // Root cannot use Chromium's setuid sandbox helper: the OS-level sandbox is then off, while the
    // sandbox web preference (what this test asserts, and what limits the preload) stays on.
    const rootArgs = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
    app = await _electron.launch({
      executablePath: lookup.binary.path,
      args: [...rootArgs, buildDir],
      env: { ...process.env, RELAYPACS_DESKTOP_DATA: dataDir, ELECTRON_ENABLE_LOGGING: '1' },
      timeout: 60_000,
    });
    app.process().stdout?.on('data', (d: Buffer) => { output += d.toString(); });
    app.process().stderr?.on('data', (d: Buffer) => { output += d.toString(); });
    page = await app.firstWindow();
    await page.waitForLoadState('domcontentloaded');
  }, 180_000);

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('gives every window the secure web preferences', async () => {
    const windows = await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().map((w) => {
      // getLastWebPreferences is part of Electron's WebContents but not of its typings.
      const prefs = (w.webContents as unknown as { getLastWebPreferences(): Record<string, unknown> }).getLastWebPreferences();
      return {
        url: w.webContents.getURL(),
        contextIsolation: prefs.contextIsolation, sandbox: prefs.sandbox, nodeIntegration: prefs.nodeIntegration,
        nodeIntegrationInWorker: prefs.nodeIntegrationInWorker, nodeIntegrationInSubFrames: prefs.nodeIntegrationInSubFrames,
        webSecurity: prefs.webSecurity, allowRunningInsecureContent: prefs.allowRunningInsecureContent,
        experimentalFeatures: prefs.experimentalFeatures, webviewTag: prefs.webviewTag, enableBlinkFeatures: prefs.enableBlinkFeatures ?? '',
      };
    }));
    expect(windows.length, output).toBeGreaterThan(0);
    for (const window of windows) {
      expect(window).toEqual({
        url: expect.stringMatching(/^app:\/\/relaypacs\//) as unknown as string,
        contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, nodeIntegrationInSubFrames: false,
        webSecurity: true, allowRunningInsecureContent: false, experimentalFeatures: false, webviewTag: false, enableBlinkFeatures: '',
      });
    }
  });

  it('exposes exactly the contract as window.api, and no Node or Electron to the page', async () => {
    const surface = await page.evaluate(() => {
      const w = globalThis as unknown as Record<string, unknown>;
      return {
        api: Object.keys(w.api as object).sort(),
        functions: Object.values(w.api as object).every((v) => typeof v === 'function'),
        files: Object.keys(w.relaypacsFiles as object),
        require: typeof w.require, process: typeof w.process, ipcRenderer: typeof w.ipcRenderer, electron: typeof w.electron,
      };
    });
    expect(surface).toEqual({
      api: [...INVOKE_CHANNELS, ...EVENT_CHANNELS.map((c) => `on:${c}`)].sort(),
      functions: true,
      files: ['pathForFile'],
      require: 'undefined', process: 'undefined', ipcRenderer: 'undefined', electron: 'undefined',
    });
  });

  it('answers a contract call through the real IPC', async () => {
    const result = await page.evaluate(() => (globalThis as unknown as { api: Record<string, (r?: unknown) => Promise<unknown>> }).api['session:get']!());
    expect(result).toEqual({ ok: true, value: null });
  });

  it('refuses to navigate away from the app', async () => {
    const before = page.url();
    // The tests' tsconfig has no DOM types: the page's globals are reached through globalThis.
    const go = (url: string) => page.evaluate((to) => { (globalThis as unknown as { location: { href: string } }).location.href = to; }, url);
    await go('https://example.com/');
    await page.waitForTimeout(500);
    expect(page.url()).toBe(before);
    await go('file:///etc/passwd');
    await page.waitForTimeout(500);
    expect(page.url()).toBe(before);
  });

  it('refuses to open new windows', async () => {
    const opened = await page.evaluate(() => (globalThis as unknown as { open(url: string): unknown }).open('https://example.com/') === null);
    await page.waitForTimeout(500);
    expect(opened).toBe(true);
    expect(await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)).toBe(1);
  });

  it('shows the sign-in screen to a new user', async () => {
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).count(), { timeout: 15_000 }).toBe(1);
    expect(await page.getByRole('button', { name: 'Sign in' }).count()).toBe(1);
  });

  it('refuses IPC from a window the app did not create, even with the same preload and page', async () => {
    const preload = join(buildDir, 'preload', 'preload.cjs');
    const [stranger] = await Promise.all([
      app.waitForEvent('window'),
      app.evaluate(({ BrowserWindow }, path) => {
        const window = new BrowserWindow({ show: false, webPreferences: { preload: path, sandbox: true, contextIsolation: true } });
        void window.loadURL('app://relaypacs/index.html');
      }, preload),
    ]);
    await stranger.waitForLoadState('domcontentloaded');
    const answer = await stranger.evaluate(() => (globalThis as unknown as { api: Record<string, () => Promise<unknown>> }).api['session:get']!()
      .then(() => 'answered', (error: Error) => `refused: ${error.message}`));
    expect(answer).toMatch(/^refused: .*not a RelayPACS window/);
    await stranger.close();
  });
});

// Where the app cannot run, the skip carries its reason in the report too, not only on the console.
if (skipReason) it.skip(`the Electron app: ${skipReason}`, () => {});
