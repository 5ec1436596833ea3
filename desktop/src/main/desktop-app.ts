/**
 * The Electron app's lifecycle: one instance per user, hardening before anything loads, the core
 * and its desktop API, IPC, the main window, tray, menu, notifications, start at login and updates. Closing
 * the window keeps RelayPACS running in the tray (watched folders and the queue keep sending);
 * Quit in the tray or menu ends it.
 */
import { join } from 'node:path';
import { app, BrowserWindow, dialog, ipcMain, Menu, session as electronSession, shell, type Session } from 'electron';
import type { Settings, StatusSummary } from '../common/ipc-contract.js';
import { createCore } from '../core/create-core.js';
import { createDesktopApi, type DesktopApi } from '../app/desktop-api.js';
import { buildAppMenu } from './app-menu.js';
import type { AppPaths } from './app-paths.js';
import { registerAppScheme, serveAppProtocol } from './app-protocol.js';
import { registerIpc } from './ipc-bridge.js';
import { applyStartAtLogin, wasOpenedAtLogin } from './login-item.js';
import { OsNotifier } from './notifications.js';
import { NO_SHELL_POLICY, type PolicySource, type ShellPolicy } from './policy.js';
import { APP_ENTRY_URL } from './security/app-origin.js';
import { normalizeOrigin } from './security/navigation-policy.js';
import { hardenSession, hardenWebContents, type ExternalLinks } from './session-hardening.js';
import { AppTray } from './tray.js';
import type { Updater, UpdaterFactory } from './updater.js';
import { createAppWindow } from './window-factory.js';
import { WindowRegistry } from './window-registry.js';

export interface DesktopAppOptions {
  paths: AppPaths;
  /** IT policy (machine-policy.ts); none means nothing is locked. */
  policySource?: PolicySource;
  /** Automatic updates (updater.ts), built once policy is loaded; none means the updates settings have no effect. */
  updater?: UpdaterFactory;
}

const log = (line: string) => console.log(`relaypacs: ${line}`);
const describeError = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function runDesktopApp(options: DesktopAppOptions): void {
  // A separate profile (Chromium's data and the core's catalog) for tests and side-by-side installs.
  if (process.env.RELAYPACS_DESKTOP_DATA) app.setPath('userData', process.env.RELAYPACS_DESKTOP_DATA);
  registerAppScheme();
  if (!app.requestSingleInstanceLock()) {
    // Another RelayPACS runs for this user: it shows its window (second-instance) and this one ends.
    app.quit();
    return;
  }
  new DesktopApp(options).start().catch((error: unknown) => {
    log(`could not start: ${describeError(error)}`);
    dialog.showErrorBox('RelayPACS could not start', 'RelayPACS could not open its data folder or catalog. Tell IT; nothing already sent is lost.');
    app.exit(1);
  });
}

class DesktopApp {
  private readonly windows = new WindowRegistry();
  private readonly devTools = !app.isPackaged;
  private mainWindow: BrowserWindow | null = null;
  private tray: AppTray | null = null;
  private quitting = false;
  private closed = false;
  private api: DesktopApi | null = null;
  private policy: ShellPolicy = NO_SHELL_POLICY;
  private updater: Updater | null = null;
  private readonly disposers: (() => void)[] = [];

  constructor(private readonly options: DesktopAppOptions) {}

  async start(): Promise<void> {
    const links: ExternalLinks = {
      allowedOrigins: () => this.allowedExternalOrigins(),
      openExternal: (url) => shell.openExternal(url),
    };
    // Every session and every webContents, including any created later or by Electron itself.
    app.on('session-created', (created: Session) => hardenSession(created, log));
    app.on('web-contents-created', (_event, contents) => hardenWebContents(contents, links, log));
    app.on('second-instance', () => this.showWindow());
    app.on('before-quit', (event) => {
      this.quitting = true;
      if (this.closed) return;
      // Stop sending and watching and close the catalog first, then quit for real.
      event.preventDefault();
      void this.shutDown().finally(() => app.quit());
    });
    // The window closed while the tray keeps the app: nothing to do; without a tray, closing quits.
    app.on('window-all-closed', () => {
      if (!this.tray) app.quit();
    });
    app.on('activate', () => this.showWindow());

    await app.whenReady();
    const session = electronSession.defaultSession;
    hardenSession(session, log);
    serveAppProtocol(session, this.options.paths.rendererDir);

    this.policy = await (this.options.policySource?.load() ?? Promise.resolve(NO_SHELL_POLICY));
    const notifier = new OsNotifier(() => this.showWindow());
    this.updater = this.options.updater?.({
      policy: this.policy,
      log,
      updateReady: (version) => {
        this.tray?.setNotice(`Update ${version} ready: installs when RelayPACS quits`);
        notifier.showInfo('RelayPACS update ready', `Version ${version} is installed the next time RelayPACS quits. Sending carries on until then.`);
      },
    }) ?? null;
    const core = await createCore({ dataDir: join(app.getPath('userData'), 'core') });
    const api = await createDesktopApi({
      core,
      chooseImportPaths: (kind) => this.choosePaths(kind),
      policy: () => this.policy,
      notify: (notice) => notifier.show(notice),
      onSettingsChanged: (settings) => this.applySettings(settings),
      log,
    });
    this.api = api;
    this.disposers.push(registerIpc({ ipcMain, api, windows: this.windows, log }));

    Menu.setApplicationMenu(buildAppMenu({ devTools: this.devTools, showWindow: () => this.showWindow(), quit: () => app.quit() }));
    this.startTray(api);
    const settings = await api.invoke('settings:get', undefined);
    if (settings.ok) this.applySettings(settings.value.settings);
    if (!this.updater) log('updates: this build has no updater; the updates settings are kept for when it has one');

    this.openMainWindow(!wasOpenedAtLogin());
  }

  private openMainWindow(show: boolean): BrowserWindow {
    const window = createAppWindow({ preload: this.options.paths.preload, devTools: this.devTools, registry: this.windows });
    this.mainWindow = window;
    window.once('ready-to-show', () => {
      if (show) window.show();
    });
    window.on('close', (event) => {
      // With a tray, closing hides: uploads and watched folders go on. Quit really quits.
      if (!this.quitting && this.tray) {
        event.preventDefault();
        window.hide();
      }
    });
    window.on('closed', () => {
      if (this.mainWindow === window) this.mainWindow = null;
    });
    window.loadURL(APP_ENTRY_URL).catch((error: unknown) => log(`the window could not load the app: ${describeError(error)}`));
    return window;
  }

  private showWindow(): void {
    if (!app.isReady() || !this.api || this.quitting) return;
    const window = this.mainWindow ?? this.openMainWindow(true);
    if (window.isMinimized()) window.restore();
    window.show();
    window.focus();
  }

  private startTray(api: DesktopApi): void {
    const act = (action: 'pause' | 'resume') => {
      void api.invoke('queue:act', { action, jobId: 'all' }).then((result) => {
        if (!result.ok) log(`tray: ${action} all: ${result.error.code}`);
      });
    };
    try {
      this.tray = new AppTray({ showWindow: () => this.showWindow(), pauseAll: () => act('pause'), resumeAll: () => act('resume'), quit: () => app.quit() });
    } catch (error) {
      // Some Linux desktops have no status area: the window then stays the only way in, and closing it quits.
      log(`tray: not available (${describeError(error)})`);
      this.tray = null;
      return;
    }
    this.disposers.push(api.on('status:changed', (status: StatusSummary) => this.tray?.update(status)));
    void api.invoke('status:get', undefined).then((status) => {
      if (status.ok) this.tray?.update(status.value);
    });
  }

  /** Main owns a few settings' effects. The settings already carry IT policy's values where it fixed them. */
  private applySettings(settings: Settings): void {
    applyStartAtLogin(settings.startAtLogin, log);
    this.updater?.configure(settings.updates);
  }

  private async allowedExternalOrigins(): Promise<string[]> {
    const origins = [...(this.policy.externalOrigins ?? [])];
    const view = await this.api?.invoke('settings:get', undefined);
    if (view?.ok) origins.push(view.value.settings.relayUrl);
    return origins.map(normalizeOrigin).filter((o): o is string => o !== null);
  }

  private async choosePaths(kind: 'folder' | 'files'): Promise<string[]> {
    const parent = BrowserWindow.getFocusedWindow() ?? this.mainWindow;
    const options: Electron.OpenDialogOptions = {
      title: kind === 'folder' ? 'Choose folders to import' : 'Choose files to import',
      properties: kind === 'folder' ? ['openDirectory', 'multiSelections'] : ['openFile', 'multiSelections'],
    };
    const chosen = parent ? await dialog.showOpenDialog(parent, options) : await dialog.showOpenDialog(options);
    return chosen.canceled ? [] : chosen.filePaths;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    for (const dispose of this.disposers.splice(0).reverse()) dispose();
    this.tray?.destroy();
    this.tray = null;
    this.updater?.dispose();
    this.updater = null;
    // The API owns the core: it stops sending and watching, waits briefly for work in flight, and closes the catalog.
    await this.api?.close().catch((error: unknown) => log(`closing: ${describeError(error)}`));
    this.api = null;
  }
}
