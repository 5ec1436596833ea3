import { basename, resolve } from 'node:path';
import type { WatchedFolder, WatchedFolderStatus } from '../common/ipc-contract.js';
import type { ImportService } from '../core/import/import-service.js';
import type { UploadEngine } from '../core/upload/upload-engine.js';
import { FolderWatcher } from '../core/watch/folder-watcher.js';
import { WatchUploader } from '../core/watch/watch-uploader.js';
import { resolveWatchedFolderConfig, type ResolvedWatchedFolderConfig, type WatchedFolderConfig } from '../core/watch/watched-folder-config.js';
import type { StoredWatchedFolder, WatchedFoldersRepository } from '../core/watch/watched-folders-repository.js';

/** Timing applied to every watched folder (defaults: watched-folder-config.ts). */
export type WatchTimings = Partial<Pick<WatchedFolderConfig, 'pollIntervalMs' | 'stabilityMs' | 'studyQuietMs' | 'reconcileIntervalMs'>>;

export interface WatchServiceOptions {
  folders: WatchedFoldersRepository;
  imports: ImportService;
  /** Where settled studies are queued and whose end they wait for (the app's sender). */
  sender: () => Promise<Pick<UploadEngine, 'enqueue' | 'run'>>;
  timings?: WatchTimings;
  /** IT policy: the list is fixed (every folder shown locked). */
  locked?: () => boolean;
  onChange?: (folders: WatchedFolderStatus[]) => void;
  /** Ids and codes only: paths can name patients. */
  log?: (message: string) => void;
  /** How often live status (last file seen, studies settling) is looked at while watching. Default 1 s. */
  statusIntervalMs?: number;
}

interface Watched {
  config: ResolvedWatchedFolderConfig;
  watcher: FolderWatcher;
  started: boolean;
  problem?: string;
  unavailableReason?: string;
}

/**
 * The watched folders of the desktop app: kept in the catalog, watched (FolderWatcher) while
 * someone is signed in, each settled study imported and queued with the folder's defaults
 * (WatchUploader) through the app's sender, and a live status per folder for the screen.
 */
export class WatchService {
  private readonly watched = new Map<string, Watched>();
  private active = false;
  private timer: NodeJS.Timeout | undefined;
  private lastSent = '';

  constructor(private readonly options: WatchServiceOptions) {}

  list(): WatchedFolderStatus[] {
    const locked = this.options.locked?.() ?? false;
    return this.options.folders.list().map((folder) => this.statusOf(folder, locked));
  }

  /** Adds a folder (or changes the defaults of one already watched) and starts watching it when signed in. */
  async add(folder: WatchedFolder): Promise<WatchedFolderStatus[]> {
    const config = this.resolve(folder);
    this.options.folders.save(stored(config));
    await this.stopOne(config.path);
    if (this.active) await this.startOne(config);
    return this.changed();
  }

  async remove(path: string): Promise<WatchedFolderStatus[]> {
    const known = this.options.folders.list().find((f) => f.path === path || f.path === resolve(path));
    if (!known) return this.list();
    await this.stopOne(known.path);
    this.options.folders.remove(known.path);
    return this.changed();
  }

  /** Watches every stored folder (on sign-in and at start when signed in). */
  async start(): Promise<void> {
    if (this.active) return;
    this.active = true;
    for (const folder of this.options.folders.list()) {
      try {
        await this.startOne(this.resolve(folder));
      } catch {
        this.options.log?.('watch: a stored watched folder has settings that are no longer valid; it is not watched');
      }
    }
    this.timer = setInterval(() => this.emitIfChanged(), this.options.statusIntervalMs ?? 1_000);
    this.timer.unref();
    this.changed();
  }

  /** Stops watching (sign-out, closing); what each watcher knows is dropped with it. */
  async stop(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.watched.keys()].map((path) => this.stopOne(path)));
    this.changed();
  }

  private resolve(folder: StoredWatchedFolder | WatchedFolder): ResolvedWatchedFolderConfig {
    return resolveWatchedFolderConfig({
      path: folder.path, serviceLevel: folder.serviceLevel, afterDelivery: folder.afterDelivery, usePolling: folder.usePolling,
      ...(folder.routingTag !== undefined ? { routingTag: folder.routingTag } : {}),
      ...(folder.doneFolder !== undefined ? { doneFolder: folder.doneFolder } : {}),
      ...this.options.timings,
    });
  }

  private async startOne(config: ResolvedWatchedFolderConfig): Promise<void> {
    const watcher = new FolderWatcher(config, { log: (message) => this.options.log?.(`watch: ${message}`) });
    const entry: Watched = { config, watcher, started: false };
    // Not waited for on stop: it may be waiting for the PACS, and the queue keeps the job anyway.
    const uploader = new WatchUploader({
      imports: this.options.imports,
      engine: this.options.sender,
      onError: (_folder, error) => {
        entry.problem = 'A study from this folder could not be queued. It is sent when the folder is next walked; tell IT if this stays.';
        this.options.log?.(`watch: a settled study could not be queued (${error instanceof Error ? error.name : 'error'})`);
        this.emitIfChanged();
      },
      onOutcome: () => this.emitIfChanged(),
    });
    uploader.attach(watcher, config);
    watcher.on('study-settled', () => this.emitIfChanged());
    watcher.on('folder-unavailable', (event) => {
      entry.unavailableReason = event.reason;
      this.emitIfChanged();
    });
    watcher.on('folder-available', () => {
      entry.unavailableReason = undefined;
      this.emitIfChanged();
    });
    this.watched.set(config.path, entry);
    try {
      await watcher.start();
      entry.started = true;
    } catch (error) {
      entry.problem = 'Watching this folder could not start. Check that it exists and can be read.';
      this.options.log?.(`watch: a folder could not be watched (${error instanceof Error ? error.name : 'error'})`);
    }
  }

  private async stopOne(path: string): Promise<void> {
    const entry = this.watched.get(path);
    if (!entry) return;
    this.watched.delete(path);
    await entry.watcher.stop();
  }

  private statusOf(folder: StoredWatchedFolder, locked: boolean): WatchedFolderStatus {
    const base: WatchedFolder = {
      path: folder.path, serviceLevel: folder.serviceLevel, afterDelivery: folder.afterDelivery, usePolling: folder.usePolling,
      ...(folder.routingTag !== undefined ? { routingTag: folder.routingTag } : {}),
      ...(folder.doneFolder !== undefined ? { doneFolder: folder.doneFolder } : {}),
      ...(locked ? { locked: true } : {}),
    };
    const entry = this.watched.get(folder.path);
    if (!entry) {
      return { ...base, state: 'starting', studiesSettling: 0, message: this.active ? 'Starting to watch…' : 'Watching starts when you sign in.' };
    }
    const status = entry.watcher.status();
    const lastFileSeen = status.lastFileSeenAt !== null && status.lastFileSeenPath !== null
      ? { lastFileSeen: { name: basename(status.lastFileSeenPath), at: new Date(status.lastFileSeenAt).toISOString() } } : {};
    const common = { ...base, ...lastFileSeen, studiesSettling: status.settling.length };
    if (entry.problem && !entry.started) return { ...common, state: 'error', message: entry.problem };
    if (status.available === false) {
      return { ...common, state: 'missing', message: `The folder cannot be reached: ${entry.unavailableReason ?? 'it is not there'}. Watching resumes when it is back.` };
    }
    if (status.available === null || !entry.started) return { ...common, state: 'starting', message: 'Starting to watch…' };
    return { ...common, state: 'watching', ...(entry.problem ? { message: entry.problem } : {}) };
  }

  private changed(): WatchedFolderStatus[] {
    const list = this.list();
    this.lastSent = JSON.stringify(list);
    this.options.onChange?.(list);
    return list;
  }

  private emitIfChanged(): void {
    const list = this.list();
    const text = JSON.stringify(list);
    if (text === this.lastSent) return;
    this.lastSent = text;
    this.options.onChange?.(list);
  }
}

function stored(config: ResolvedWatchedFolderConfig): StoredWatchedFolder {
  return {
    path: config.path, serviceLevel: config.serviceLevel, afterDelivery: config.afterDelivery, usePolling: config.usePolling,
    ...(config.routingTag !== undefined ? { routingTag: config.routingTag } : {}),
    ...(config.doneFolder !== undefined ? { doneFolder: config.doneFolder } : {}),
  };
}
