import { EventEmitter } from 'node:events';
import type { Stats } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { FSWatcher } from 'chokidar';
import type { ErrorCode } from '../../common/error-codes.js';
import { readInstanceHeader, type HeaderResult } from '../dicom/header-reader.js';
import { FolderPresence, mapPaths, statFile } from './folder-presence.js';
import { checkInstanceComplete, type CompletenessResult } from './instance-completeness.js';
import { reconcileWalk } from './reconcile-walk.js';
import { isIgnoredPath } from './watch-ignore.js';
import type { FolderWatcherEvents, FolderWatcherOptions, FolderWatcherStatus } from './folder-watcher-types.js';
import { WatchLedger, type PendingEntry, type StudyBucket } from './watch-ledger.js';
import { resolveWatchedFolderConfig, type ResolvedWatchedFolderConfig, type WatchedFolderConfig } from './watched-folder-config.js';

export type {
  FileSkippedEvent, FolderAvailableEvent, FolderUnavailableEvent, FolderWatcherEvents, FolderWatcherOptions,
  FolderWatcherStatus, ReconciledEvent, StudySettledEvent,
} from './folder-watcher-types.js';
export type { SettledFile, SettlingStudy } from './watch-ledger.js';

/**
 * Watches one folder (and everything below it) for DICOM instances and says when a study has
 * settled; it never uploads. Notifications come from chokidar (OS events, or polling for shares);
 * a periodic reconcile walk feeds whatever they missed. A file is read only once its size and mtime
 * have held still for stabilityMs (checked here with stat on a timer, not left to chokidar), its
 * header parses and its image data is all there; a study settles once no new instance of it arrived
 * for studyQuietMs. The folder vanishing (share dropped, drive pulled) is a state, not an error:
 * the watcher waits, and on return walks the folder before settling anything. What is known of the
 * files and studies is kept in a WatchLedger; this class runs the timers, chokidar and the reads.
 */
export class FolderWatcher extends EventEmitter<FolderWatcherEvents> {
  readonly config: ResolvedWatchedFolderConfig;
  private readonly readHeader: (path: string) => Promise<HeaderResult>;
  private readonly log: (message: string) => void;
  private readonly sweepMs: number;
  private readonly probeMs: number;
  private readonly ledger: WatchLedger;
  private readonly presence: FolderPresence;

  private running = false;
  private available: boolean | null = null;
  /** Settling waits for a full walk after start and after the folder comes back: files added meanwhile are not known yet. */
  private needsReconcile = true;
  private watcher: FSWatcher | undefined;
  private watcherClosed: (() => void) | undefined;
  private timers: NodeJS.Timeout[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private sweeping = false;
  private probing: Promise<void> | undefined;
  private reconciling: Promise<void> | undefined;
  private reconcileAgain = false;
  private lastReconcileAt: number | null = null;

  constructor(config: WatchedFolderConfig, options: FolderWatcherOptions = {}) {
    super();
    this.config = resolveWatchedFolderConfig(config);
    this.readHeader = options.readHeader ?? ((path) => readInstanceHeader(path));
    this.log = options.log ?? ((message) => console.warn(`[watch] ${message}`));
    this.ledger = new WatchLedger({
      stabilityMs: this.config.stabilityMs,
      studyQuietMs: this.config.studyQuietMs,
      maxIncompleteWaitMs: options.maxIncompleteWaitMs ?? 10 * 60_000,
    });
    this.presence = new FolderPresence(this.config.path, options.folderCheckTimeoutMs ?? 10_000);
    // A quarter of the stability time keeps the wait at most 25% over what was asked for.
    this.sweepMs = Math.min(1_000, Math.max(25, Math.floor(this.config.stabilityMs / 4)));
    // Noticing a lost share within seconds matters more than the cost of one stat of its root.
    this.probeMs = Math.min(this.config.reconcileIntervalMs, 5_000);
  }

  get folder(): string {
    return this.config.path;
  }

  /** Starts watching; resolves once the folder has been checked and, when it is there, walked once. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.available = null;
    this.needsReconcile = true;
    this.timers = [
      setInterval(() => this.track(this.sweep(), 'stability check'), this.sweepMs),
      setInterval(() => this.track(this.reconcile(), 'reconcile walk'), this.config.reconcileIntervalMs),
      setInterval(() => this.track(this.probe(), 'folder check'), this.probeMs),
    ];
    await this.probe();
    await this.reconciling;
  }

  /** Stops watching and waits for work in progress to wind down. What is known is kept for a later start(). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.closeWatcher();
    while (this.inflight.size > 0 || this.probing || this.reconciling) {
      await Promise.allSettled([...this.inflight, this.probing, this.reconciling]);
    }
    this.available = null;
  }

  status(): FolderWatcherStatus {
    return {
      folder: this.folder,
      running: this.running,
      available: this.available,
      lastFileSeenAt: this.ledger.lastFileSeenAt,
      lastFileSeenPath: this.ledger.lastFileSeenPath,
      lastReconcileAt: this.lastReconcileAt,
      waitingForStability: this.ledger.pending().length,
      settling: this.ledger.settling(performance.now()),
      knownFiles: this.ledger.knownFiles,
    };
  }

  /** Running, with the folder there: only then do notifications, walks and checks count. */
  private live(): boolean {
    return this.running && this.available === true;
  }

  // ---- notifications ------------------------------------------------------------------------

  private async openWatcher(): Promise<void> {
    const watcher = new FSWatcher({
      persistent: true,
      // The reconcile walk that follows finds what is already there; an initial burst would repeat it.
      ignoreInitial: true,
      followSymlinks: false,
      usePolling: this.config.usePolling,
      interval: this.config.pollIntervalMs,
      binaryInterval: this.config.pollIntervalMs,
      alwaysStat: true,
      ignorePermissionErrors: true,
      ignored: (path: string) => isIgnoredPath(this.folder, path),
    });
    this.watcher = watcher;
    const current = () => this.watcher === watcher && this.live();
    watcher.on('add', (path, stats) => {
      if (current()) this.notice(path, stats);
    });
    watcher.on('change', (path, stats) => {
      if (current()) this.notice(path, stats);
    });
    watcher.on('unlink', (path) => {
      if (current()) this.track(this.confirmGone(path), 'removal check');
    });
    watcher.on('unlinkDir', (path) => {
      if (current() && path === this.folder) this.track(this.probe(), 'folder check');
    });
    // Errors from the OS watcher mostly mean the folder went away; the check decides.
    watcher.on('error', () => {
      if (current()) this.track(this.probe(), 'folder check');
    });
    // A watcher closed before its first scan ends (stop(), or the folder vanishing) never says ready.
    const ready = new Promise<void>((resolve) => {
      watcher.once('ready', () => resolve());
      this.watcherClosed = resolve;
    });
    watcher.add(this.folder);
    await ready;
  }

  private async closeWatcher(): Promise<void> {
    const watcher = this.watcher;
    this.watcher = undefined;
    this.watcherClosed?.();
    this.watcherClosed = undefined;
    await watcher?.close();
  }

  /** A file was added or changed (a notification with its stats, or a walk without). */
  private notice(path: string, stats?: Stats): void {
    if (isIgnoredPath(this.folder, path)) return;
    if (stats && !stats.isFile()) return;
    this.ledger.notice(path, stats, performance.now(), Date.now());
  }

  // ---- stability ----------------------------------------------------------------------------

  /** The timer's work: look at every file still waiting, then settle the studies that are due. */
  private async sweep(): Promise<void> {
    if (this.sweeping || !this.live()) return;
    this.sweeping = true;
    try {
      await mapPaths(this.ledger.pending(), (path) => this.checkPending(path));
      if (this.live() && !this.needsReconcile) await this.settleDue();
    } finally {
      this.sweeping = false;
    }
  }

  private async checkPending(path: string): Promise<void> {
    const entry = this.ledger.get(path);
    if (entry?.state !== 'pending' || entry.reading) return;
    const stats = await statFile(path);
    if (!this.ledger.holds(path, entry)) return;
    if (stats === 'gone') return this.confirmGone(path);
    const now = performance.now();
    if ('error' in stats) return this.ledger.waitFor(path, entry, 'unreadable', 'FILE_UNREADABLE', stats.error, now);
    if (!stats.isFile()) return this.ledger.forget(path);
    const step = this.ledger.step(path, entry, stats, now, Date.now());
    if (step === 'read') await this.read(path, entry);
    else if (typeof step === 'object') this.skipped(path, step.code, step.reason);
  }

  /** Reads a stable file's header and checks its image data is whole; the ledger takes it only if it did not change meanwhile. */
  private async read(path: string, entry: PendingEntry): Promise<void> {
    entry.reading = true;
    let header: HeaderResult;
    let completeness: CompletenessResult = { complete: true };
    try {
      header = await this.readHeader(path);
      if (header.ok) {
        completeness = await checkInstanceComplete(path)
          .catch((error: unknown) => ({ complete: false, reason: `it could not be read (${(error as NodeJS.ErrnoException).code ?? 'error'})` }));
      }
    } finally {
      entry.reading = false;
    }
    const after = await statFile(path);
    if (!this.ledger.holds(path, entry)) return;
    const now = performance.now();
    if (after === 'gone') return this.confirmGone(path);
    if ('error' in after) return this.ledger.waitFor(path, entry, 'unreadable', 'FILE_UNREADABLE', after.error, now);
    const skip = this.ledger.read(path, entry, after, header, completeness, now, Date.now());
    if (skip) this.skipped(path, skip.code, skip.reason);
  }

  private skipped(path: string, code: ErrorCode, reason: string): void {
    this.fire('file-skipped', { folder: this.folder, path, code, reason });
  }

  // ---- settling -----------------------------------------------------------------------------

  private async settleDue(): Promise<void> {
    for (const [studyInstanceUid, bucket] of this.ledger.studies()) {
      if (performance.now() >= this.ledger.settleAt(studyInstanceUid, bucket)) await this.settle(studyInstanceUid, bucket);
      if (!this.live()) return;
    }
  }

  /** Confirms every file is still as it was read, then hands the study on. */
  private async settle(studyInstanceUid: string, bucket: StudyBucket): Promise<void> {
    const paths = [...bucket.paths];
    const entries = paths.map((path) => this.ledger.get(path));
    const stats = await mapPaths(paths, statFile);
    if (!this.ledger.holdsStudy(studyInstanceUid, bucket) || !this.running) return;
    let disturbed = false;
    for (const [index, path] of paths.entries()) {
      const entry = entries[index];
      const stat = stats[index];
      if (!this.ledger.holds(path, entry)) continue; // changed meanwhile: already handled
      if (stat === 'gone' || stat === undefined) {
        if (!(await this.folderIsThere())) return; // the share dropped: settle when it is back
        if (this.ledger.holds(path, entry)) this.ledger.forget(path);
      } else if ('error' in stat) {
        return; // transient (permissions being changed, share hiccup): try at the next check
      } else if (stat.size !== entry.size || stat.mtimeMs !== entry.mtimeMs) {
        this.ledger.changed(path, stat, performance.now(), Date.now());
        disturbed = true;
      }
    }
    if (!this.ledger.holdsStudy(studyInstanceUid, bucket)) return; // every file went away
    if (disturbed) {
      // A file changed after it was read: its writer was not done, so neither is the study.
      this.ledger.restartQuiet(bucket, performance.now());
      return;
    }
    if (performance.now() < this.ledger.settleAt(studyInstanceUid, bucket)) return; // an instance arrived during the checks
    const files = this.ledger.settle(studyInstanceUid, bucket);
    if (files.length > 0) this.fire('study-settled', { folder: this.folder, studyInstanceUid, files });
  }

  // ---- the folder coming and going ----------------------------------------------------------

  private probe(): Promise<void> {
    this.probing ??= this.checkFolder().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private async checkFolder(): Promise<void> {
    if (!this.running) return;
    const problem = await this.presence.problem();
    if (!this.running) return;
    if (problem === undefined && this.available !== true) await this.becomeAvailable();
    else if (problem !== undefined && this.available !== false) await this.becomeUnavailable(problem);
  }

  private async becomeAvailable(): Promise<void> {
    const wasGone = this.available === false;
    this.available = true;
    this.needsReconcile = true;
    await this.openWatcher();
    if (!this.live()) return;
    if (wasGone) this.fire('folder-available', { folder: this.folder });
    this.track(this.reconcile(), 'reconcile walk');
  }

  private async becomeUnavailable(reason: string): Promise<void> {
    this.available = false;
    this.needsReconcile = true;
    await this.closeWatcher();
    this.fire('folder-unavailable', { folder: this.folder, reason });
  }

  private async folderIsThere(): Promise<boolean> {
    const problem = await this.presence.problem();
    if (problem !== undefined) this.track(this.probe(), 'folder check');
    return problem === undefined;
  }

  /** A notification or a stat said a file is gone; forget it only if its folder is there to say so. */
  private async confirmGone(path: string): Promise<void> {
    const entry = this.ledger.get(path);
    if (!entry) return;
    const stats = await statFile(path);
    if (stats !== 'gone') {
      if (!('error' in stats) && this.ledger.holds(path, entry)) this.notice(path, stats);
      return;
    }
    // A dropped share makes every file look deleted; forgetting them would send them again on return.
    if (!(await this.folderIsThere())) return;
    if (this.ledger.holds(path, entry)) this.ledger.forget(path);
  }

  // ---- reconcile ----------------------------------------------------------------------------

  private reconcile(): Promise<void> {
    if (this.reconciling) {
      this.reconcileAgain = true;
      return this.reconciling;
    }
    this.reconciling = (async () => {
      do {
        this.reconcileAgain = false;
        await this.walk();
      } while (this.reconcileAgain && this.running);
    })().finally(() => {
      this.reconciling = undefined;
    });
    return this.reconciling;
  }

  private async walk(): Promise<void> {
    if (!this.live()) return;
    const result = await reconcileWalk({
      folder: this.folder,
      ledger: this.ledger,
      live: () => this.live(),
      notice: (path, stats) => this.notice(path, stats),
    });
    if (result.outcome === 'folder-unreadable') this.track(this.probe(), 'folder check');
    if (result.outcome !== 'done' || !this.live()) return;
    this.needsReconcile = false;
    this.lastReconcileAt = Date.now();
    this.fire('reconciled', { folder: this.folder, files: result.files, found: result.found, forgotten: result.forgotten });
  }

  // ---- plumbing -----------------------------------------------------------------------------

  /** Emits after the state is settled, so a listener that throws cannot leave the watcher half way. */
  private fire<K extends keyof FolderWatcherEvents>(name: K, ...payload: FolderWatcherEvents[K]): void {
    if (!this.running) return;
    try {
      (this.emit as (event: K, ...args: FolderWatcherEvents[K]) => boolean)(name, ...payload);
    } catch (error) {
      this.log(`a '${name}' listener threw (${describeError(error)})`);
    }
  }

  /** Runs timer-driven work so that a failure is reported, never an unhandled rejection. */
  private track(work: Promise<void>, what: string): void {
    const tracked: Promise<void> = work.catch((error: unknown) => {
      this.log(`${what} failed (${describeError(error)})`);
    }).finally(() => {
      this.inflight.delete(tracked);
    });
    this.inflight.add(tracked);
  }
}

/** Error name and code only: messages may quote paths, and paths may name patients. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${error.name} ${code}` : error.name;
}
