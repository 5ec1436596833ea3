import { EventEmitter } from 'node:events';
import type { Stats } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { FSWatcher } from 'chokidar';
import type { ErrorCode } from '../../common/error-codes.js';
import { readInstanceHeader, type HeaderResult } from '../dicom/header-reader.js';
import { folderSource } from '../import/folder-source.js';
import { checkInstanceComplete, type CompletenessResult } from './instance-completeness.js';
import { isIgnoredPath } from './watch-ignore.js';
import { resolveWatchedFolderConfig, type ResolvedWatchedFolderConfig, type WatchedFolderConfig } from './watched-folder-config.js';
import { errnoCode, fileErrorReason } from '../file-error-reason.js';

/** One instance of a settled study, as it was on disk when the study settled. */
export interface SettledFile {
  path: string;
  sopInstanceUid: string;
  size: number;
  mtimeMs: number;
}

/** Every instance of one study that arrived since its last settle, once no new one came for studyQuietMs. */
export interface StudySettledEvent {
  /** The watched folder (its configured path, normalised). */
  folder: string;
  studyInstanceUid: string;
  /** Sorted by path. Only files not handed on by an earlier settle of the same study. */
  files: SettledFile[];
}

/** A file that will not be handed on as it is (not DICOM, never completed, unreadable); reported once per path, size and mtime. */
export interface FileSkippedEvent {
  folder: string;
  path: string;
  code: ErrorCode;
  reason: string;
}

export interface FolderUnavailableEvent {
  folder: string;
  /** Why, in words (no PHI: the watched folder's own path at most). */
  reason: string;
}

export interface FolderAvailableEvent {
  folder: string;
}

/** A reconcile walk finished. `found` counts files the notifications had missed: a steady non-zero suggests polling. */
export interface ReconciledEvent {
  folder: string;
  /** Files (not ignored) the walk saw. */
  files: number;
  found: number;
  /** Known files the walk no longer saw, now forgotten. */
  forgotten: number;
}

export interface FolderWatcherEvents {
  'study-settled': [StudySettledEvent];
  'file-skipped': [FileSkippedEvent];
  'folder-unavailable': [FolderUnavailableEvent];
  'folder-available': [FolderAvailableEvent];
  'reconciled': [ReconciledEvent];
}

export interface SettlingStudy {
  studyInstanceUid: string;
  instances: number;
  /** 0 when due: it settles at the next check, or as soon as the folder is back and walked. */
  settlesInMs: number;
}

export interface FolderWatcherStatus {
  folder: string;
  running: boolean;
  /** null until the first check after start(). */
  available: boolean | null;
  /** Epoch ms when a new or changed file was last noticed. */
  lastFileSeenAt: number | null;
  /** The path of that file (for "last file seen" displays; a path can name a patient, so never log it). */
  lastFileSeenPath: string | null;
  /** Epoch ms of the last completed reconcile walk. */
  lastReconcileAt: number | null;
  /** Files noticed but not yet read: still being written, or waiting for the rest of the file. */
  waitingForStability: number;
  settling: SettlingStudy[];
  /** Every file remembered (waiting, settling, handed on, skipped): what the watcher's memory grows with. */
  knownFiles: number;
}

export interface FolderWatcherOptions {
  /** Reads a header; the real reader by default. Tests wrap it to see when files are read. */
  readHeader?: (path: string) => Promise<HeaderResult>;
  /** How long a file whose header or image data is cut short may stay so before it is skipped. Default 10 minutes. */
  maxIncompleteWaitMs?: number;
  /** How long the folder may take to answer a check before it counts as gone (a dead SMB server hangs). Default 10 s. */
  folderCheckTimeoutMs?: number;
  /** Where unexpected internal failures are reported; messages carry no paths or UIDs. Default console.warn. */
  log?: (message: string) => void;
}

/**
 * What is known about one file. An entry object is replaced, never edited, whenever the file's size
 * or mtime or its state changes, so an asynchronous step can tell its result went stale by checking
 * that the map still holds the same object. Only bookkeeping fields (seen, wait) are edited in place.
 */
type Entry = {
  size: number;
  mtimeMs: number;
  /** Number of the last reconcile walk that saw the file. */
  seenInScan: number;
  /** Monotonic time the file was last noticed; a walk that started earlier does not prune it. */
  touchedAt: number;
} & (
  | {
    state: 'pending';
    firstSeenAt: number;
    /** Monotonic time size or mtime last changed: stability counts from here. */
    changedAt: number;
    /** Set when the stable file could not be taken yet; cleared by replacing the entry on change. */
    wait?: {
      kind: 'incomplete' | 'unreadable'; since: number; lastTry: number; code: ErrorCode; reason: string;
      /** Known when the header parsed but the image data is not all there yet: that study waits for it. */
      studyInstanceUid?: string;
    };
    reading: boolean;
  }
  | { state: 'accepted'; studyInstanceUid: string; sopInstanceUid: string }
  | { state: 'emitted' }
  | { state: 'skipped' }
);
type PendingEntry = Extract<Entry, { state: 'pending' }>;
type AcceptedEntry = Extract<Entry, { state: 'accepted' }>;

interface StudyBucket {
  /** Monotonic time the latest instance was accepted into it; the quiet period counts from here. */
  lastAddedAt: number;
  paths: Set<string>;
}

type FileStat = Stats | 'gone' | { error: string };

const PARALLEL_STATS = 8;

/**
 * Watches one folder (and everything below it) for DICOM instances and says when a study has
 * settled; it never uploads. Notifications come from chokidar (OS events, or polling for shares);
 * a periodic reconcile walk feeds whatever they missed. A file is read only once its size and mtime
 * have held still for stabilityMs (checked here with stat on a timer, not left to chokidar), its
 * header parses and its image data is all there; a study settles once no new instance of it arrived
 * for studyQuietMs. The folder vanishing (share dropped, drive pulled) is a state, not an error:
 * the watcher waits, and on return walks the folder before settling anything.
 */
export class FolderWatcher extends EventEmitter<FolderWatcherEvents> {
  readonly config: ResolvedWatchedFolderConfig;
  private readonly readHeader: (path: string) => Promise<HeaderResult>;
  private readonly maxIncompleteWaitMs: number;
  private readonly folderCheckTimeoutMs: number;
  private readonly log: (message: string) => void;
  private readonly sweepMs: number;
  private readonly probeMs: number;

  private readonly files = new Map<string, Entry>();
  private readonly pending = new Set<string>();
  private readonly buckets = new Map<string, StudyBucket>();

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
  private rootStat: Promise<string | undefined> | undefined;
  private reconciling: Promise<void> | undefined;
  private reconcileAgain = false;
  private scanNumber = 0;
  private lastFileSeenAt: number | null = null;
  private lastFileSeenPath: string | null = null;
  private lastReconcileAt: number | null = null;

  constructor(config: WatchedFolderConfig, options: FolderWatcherOptions = {}) {
    super();
    this.config = resolveWatchedFolderConfig(config);
    this.readHeader = options.readHeader ?? ((path) => readInstanceHeader(path));
    this.maxIncompleteWaitMs = options.maxIncompleteWaitMs ?? 10 * 60_000;
    this.folderCheckTimeoutMs = options.folderCheckTimeoutMs ?? 10_000;
    this.log = options.log ?? ((message) => console.warn(`[watch] ${message}`));
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
    const now = performance.now();
    return {
      folder: this.folder,
      running: this.running,
      available: this.available,
      lastFileSeenAt: this.lastFileSeenAt,
      lastFileSeenPath: this.lastFileSeenPath,
      lastReconcileAt: this.lastReconcileAt,
      waitingForStability: this.pending.size,
      settling: [...this.buckets].map(([studyInstanceUid, bucket]) => ({
        studyInstanceUid,
        instances: bucket.paths.size,
        settlesInMs: Math.max(0, Math.ceil(this.settleAt(studyInstanceUid, bucket) - now)),
      })),
      knownFiles: this.files.size,
    };
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
    const current = () => this.watcher === watcher && this.running && this.available === true;
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
    const now = performance.now();
    const entry = this.files.get(path);
    if (!entry) {
      this.put(path, this.pendingEntry(path, now, stats, undefined));
      return;
    }
    entry.touchedAt = now;
    entry.seenInScan = this.scanNumber;
    if (!stats || (stats.size === entry.size && stats.mtimeMs === entry.mtimeMs)) return;
    this.put(path, this.pendingEntry(path, now, stats, entry));
  }

  /**
   * A new pending entry. A file that was already pending keeps its first-seen time; one that had
   * been handed on or skipped and then changed is new content and starts over.
   */
  private pendingEntry(path: string, now: number, stats: { size: number; mtimeMs: number } | undefined, previous: Entry | undefined): PendingEntry {
    this.lastFileSeenAt = Date.now();
    this.lastFileSeenPath = path;
    return {
      state: 'pending',
      // -1 until the first stat: the first look then counts as a change, and stability starts there.
      size: stats?.size ?? -1,
      mtimeMs: stats?.mtimeMs ?? -1,
      seenInScan: this.scanNumber,
      touchedAt: now,
      firstSeenAt: previous?.state === 'pending' ? previous.firstSeenAt : now,
      changedAt: now,
      reading: false,
    };
  }

  // ---- stability ----------------------------------------------------------------------------

  /** The timer's work: look at every file still waiting, then settle the studies that are due. */
  private async sweep(): Promise<void> {
    if (this.sweeping || !this.running || this.available !== true) return;
    this.sweeping = true;
    try {
      await forEachLimit([...this.pending], PARALLEL_STATS, (path) => this.checkPending(path));
      if (this.running && this.available === true && !this.needsReconcile) await this.settleDue();
    } finally {
      this.sweeping = false;
    }
  }

  private async checkPending(path: string): Promise<void> {
    const entry = this.files.get(path);
    if (entry?.state !== 'pending' || entry.reading) return;
    const stats = await this.statFile(path);
    if (this.files.get(path) !== entry) return;
    if (stats === 'gone') return this.confirmGone(path);
    const now = performance.now();
    if ('error' in stats) return this.waitFor(path, entry, 'unreadable', 'FILE_UNREADABLE', stats.error, now);
    if (!stats.isFile()) return this.forget(path);
    if (stats.size !== entry.size || stats.mtimeMs !== entry.mtimeMs) {
      this.put(path, this.pendingEntry(path, now, stats, entry));
      return;
    }
    if (now - entry.changedAt < this.config.stabilityMs) return;

    const wait = entry.wait;
    if (wait && now - wait.since >= this.maxIncompleteWaitMs) return this.skip(path, entry, wait.code, `${wait.reason}; gave up waiting for it`);
    // A cut-short file is read again only once it changes (which replaces the entry); a locked or
    // unreadable one (Windows locks a file its writer holds) is simply tried again a while later.
    if (wait?.kind === 'incomplete') return;
    if (wait?.kind === 'unreadable' && now - wait.lastTry < this.config.stabilityMs) return;
    if (entry.size === 0) return this.waitFor(path, entry, 'incomplete', 'FILE_TRUNCATED', 'the file is still empty', now);
    await this.read(path, entry);
  }

  /** Reads a stable file's header and checks its image data is whole; takes it only if it did not change meanwhile. */
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
    const after = await this.statFile(path);
    if (this.files.get(path) !== entry) return;
    const now = performance.now();
    if (after === 'gone') return this.confirmGone(path);
    if ('error' in after) return this.waitFor(path, entry, 'unreadable', 'FILE_UNREADABLE', after.error, now);
    if (after.size !== entry.size || after.mtimeMs !== entry.mtimeMs) {
      // Written to while being read: it was not finished after all.
      this.put(path, this.pendingEntry(path, now, after, entry));
      return;
    }
    if (!header.ok) {
      // Cut inside its image data, a file has already named its study: that study waits for it.
      if (header.code === 'FILE_TRUNCATED') return this.waitFor(path, entry, 'incomplete', header.code, header.reason, now, header.studyInstanceUid);
      if (header.code === 'FILE_UNREADABLE') return this.waitFor(path, entry, 'unreadable', header.code, header.reason, now);
      return this.skip(path, entry, header.code, header.reason);
    }
    if (!completeness.complete) return this.waitFor(path, entry, 'incomplete', 'FILE_TRUNCATED', completeness.reason, now, header.header.study.instanceUid);
    const accepted: AcceptedEntry = {
      state: 'accepted', size: entry.size, mtimeMs: entry.mtimeMs, seenInScan: entry.seenInScan, touchedAt: entry.touchedAt,
      studyInstanceUid: header.header.study.instanceUid, sopInstanceUid: header.header.sopInstanceUid,
    };
    this.put(path, accepted);
    const bucket = this.buckets.get(accepted.studyInstanceUid);
    if (bucket) bucket.lastAddedAt = now;
  }

  private waitFor(path: string, entry: PendingEntry, kind: 'incomplete' | 'unreadable', code: ErrorCode, reason: string, now: number, studyInstanceUid?: string): void {
    if (this.files.get(path) !== entry) return;
    entry.wait = { kind, since: entry.wait?.since ?? now, lastTry: now, code, reason, ...(studyInstanceUid ? { studyInstanceUid } : {}) };
  }

  private skip(path: string, entry: Entry, code: ErrorCode, reason: string): void {
    this.put(path, { state: 'skipped', size: entry.size, mtimeMs: entry.mtimeMs, seenInScan: entry.seenInScan, touchedAt: entry.touchedAt });
    this.fire('file-skipped', { folder: this.folder, path, code, reason });
  }

  // ---- settling -----------------------------------------------------------------------------

  /**
   * When a study may settle: studyQuietMs after its last new instance, or after the last change of
   * a file still being written that was already there when that instance arrived (it may be one of
   * this study's, and copies run in parallel). Files that appear later do not hold the study back,
   * so a folder that never stops receiving cannot starve a finished study; they settle on their own.
   * An instance of this very study whose copy stalled part way holds it back until the copy
   * resumes or the watcher gives up on that file.
   */
  private settleAt(studyInstanceUid: string, bucket: StudyBucket): number {
    let quietSince = bucket.lastAddedAt;
    let heldUntil = 0;
    for (const path of this.pending) {
      const entry = this.files.get(path);
      if (entry?.state !== 'pending') continue;
      if (entry.firstSeenAt <= bucket.lastAddedAt && entry.changedAt > quietSince) quietSince = entry.changedAt;
      if (entry.wait?.studyInstanceUid === studyInstanceUid) heldUntil = Math.max(heldUntil, entry.wait.since + this.maxIncompleteWaitMs);
    }
    return Math.max(quietSince + this.config.studyQuietMs, heldUntil);
  }

  private async settleDue(): Promise<void> {
    for (const [studyInstanceUid, bucket] of [...this.buckets]) {
      if (performance.now() >= this.settleAt(studyInstanceUid, bucket)) await this.settle(studyInstanceUid, bucket);
      if (!this.running || this.available !== true) return;
    }
  }

  /** Confirms every file is still as it was read, then hands the study on. */
  private async settle(studyInstanceUid: string, bucket: StudyBucket): Promise<void> {
    const paths = [...bucket.paths];
    const entries = paths.map((path) => this.files.get(path));
    const stats = await mapLimit(paths, PARALLEL_STATS, (path) => this.statFile(path));
    if (this.buckets.get(studyInstanceUid) !== bucket || !this.running) return;
    let disturbed = false;
    for (const [index, path] of paths.entries()) {
      const entry = entries[index];
      const stat = stats[index];
      if (!entry || this.files.get(path) !== entry) continue; // changed meanwhile: already handled
      if (stat === 'gone' || stat === undefined) {
        if (!(await this.folderIsThere())) return; // the share dropped: settle when it is back
        if (this.files.get(path) === entry) this.forget(path);
      } else if ('error' in stat) {
        return; // transient (permissions being changed, share hiccup): try at the next check
      } else if (stat.size !== entry.size || stat.mtimeMs !== entry.mtimeMs) {
        this.put(path, this.pendingEntry(path, performance.now(), stat, entry));
        disturbed = true;
      }
    }
    if (this.buckets.get(studyInstanceUid) !== bucket) return; // every file went away
    if (disturbed) {
      // A file changed after it was read: its writer was not done, so neither is the study.
      bucket.lastAddedAt = performance.now();
      return;
    }
    if (performance.now() < this.settleAt(studyInstanceUid, bucket)) return; // an instance arrived during the checks
    const files: SettledFile[] = [];
    for (const path of [...bucket.paths].sort()) {
      const entry = this.files.get(path);
      if (entry?.state !== 'accepted') continue;
      files.push({ path, sopInstanceUid: entry.sopInstanceUid, size: entry.size, mtimeMs: entry.mtimeMs });
      this.put(path, { state: 'emitted', size: entry.size, mtimeMs: entry.mtimeMs, seenInScan: entry.seenInScan, touchedAt: entry.touchedAt });
    }
    this.buckets.delete(studyInstanceUid);
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
    const problem = await this.folderProblem();
    if (!this.running) return;
    if (problem === undefined && this.available !== true) await this.becomeAvailable();
    else if (problem !== undefined && this.available !== false) await this.becomeUnavailable(problem);
  }

  private async becomeAvailable(): Promise<void> {
    const wasGone = this.available === false;
    this.available = true;
    this.needsReconcile = true;
    await this.openWatcher();
    if (!this.running || this.available !== true) return;
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
    const problem = await this.folderProblem();
    if (problem !== undefined) this.track(this.probe(), 'folder check');
    return problem === undefined;
  }

  /** Why the watched folder cannot be used right now, or undefined when it can. Never hangs. */
  private folderProblem(): Promise<string | undefined> {
    // One stat at a time: a dead server can hang each one, and they must not pile up.
    this.rootStat ??= new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(`the folder did not answer within ${Math.round(this.folderCheckTimeoutMs / 1000)} s`), this.folderCheckTimeoutMs);
      stat(this.folder).then(
        (stats) => resolve(stats.isDirectory() ? undefined : 'the path is not a folder'),
        (error: unknown) => resolve(folderErrorReason(error)),
      ).finally(() => clearTimeout(timer));
    }).finally(() => {
      this.rootStat = undefined;
    });
    return this.rootStat;
  }

  /** A notification or a stat said a file is gone; forget it only if its folder is there to say so. */
  private async confirmGone(path: string): Promise<void> {
    const entry = this.files.get(path);
    if (!entry) return;
    const stats = await this.statFile(path);
    if (stats !== 'gone') {
      if (!('error' in stats) && this.files.get(path) === entry) this.notice(path, stats);
      return;
    }
    // A dropped share makes every file look deleted; forgetting them would send them again on return.
    if (!(await this.folderIsThere())) return;
    if (this.files.get(path) === entry) this.forget(path);
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

  /**
   * Walks the whole folder: files no notification announced are taken in; files it no longer
   * holds are forgotten, but only after a walk that read every subfolder, and only those not
   * noticed since the walk began (a file can arrive behind the walk's back).
   */
  private async walk(): Promise<void> {
    if (!this.running || this.available !== true) return;
    const scan = ++this.scanNumber;
    const startedAt = performance.now();
    let complete = true;
    let files = 0;
    let found = 0;
    const recheck: string[] = [];
    for await (const item of folderSource(this.folder)) {
      if (!this.running || this.available !== true) return;
      if (item.kind === 'skipped') {
        complete = false;
        if (item.skipped.displayName === this.folder) {
          // The folder itself could not be read: it went away.
          this.track(this.probe(), 'folder check');
          return;
        }
        continue;
      }
      const path = item.file.path;
      if (isIgnoredPath(this.folder, path)) continue;
      files++;
      const entry = this.files.get(path);
      if (entry) {
        entry.seenInScan = scan;
        // A skipped file that changed unnoticed deserves another look; handed-on files are many, and changes to them are rare.
        if (entry.state === 'skipped') recheck.push(path);
      } else {
        found++;
        this.notice(path);
      }
    }
    let forgotten = 0;
    if (complete) {
      for (const [path, entry] of [...this.files]) {
        if (entry.seenInScan !== scan && entry.touchedAt < startedAt) {
          this.forget(path);
          forgotten++;
        }
      }
    }
    await forEachLimit(recheck, PARALLEL_STATS, async (path) => {
      const stats = await this.statFile(path);
      if (stats !== 'gone' && !('error' in stats)) this.notice(path, stats);
    });
    if (found > 0) {
      // Files the notifications missed may belong to a study waiting to settle: give them time to be read.
      const now = performance.now();
      for (const bucket of this.buckets.values()) bucket.lastAddedAt = Math.max(bucket.lastAddedAt, now);
    }
    if (!this.running || this.available !== true) return;
    this.needsReconcile = false;
    this.lastReconcileAt = Date.now();
    this.fire('reconciled', { folder: this.folder, files, found, forgotten });
  }

  // ---- bookkeeping --------------------------------------------------------------------------

  /** Sets a file's entry, keeping the pending set and the study buckets in step. */
  private put(path: string, entry: Entry): void {
    const previous = this.files.get(path);
    if (previous) this.detach(path, previous);
    this.files.set(path, entry);
    if (entry.state === 'pending') this.pending.add(path);
    else if (entry.state === 'accepted') {
      let bucket = this.buckets.get(entry.studyInstanceUid);
      if (!bucket) {
        bucket = { lastAddedAt: performance.now(), paths: new Set() };
        this.buckets.set(entry.studyInstanceUid, bucket);
      }
      bucket.paths.add(path);
    }
  }

  /** Forgets a file that is gone, so memory holds only what is in the folder. */
  private forget(path: string): void {
    const entry = this.files.get(path);
    if (!entry) return;
    this.detach(path, entry);
    this.files.delete(path);
  }

  private detach(path: string, entry: Entry): void {
    this.pending.delete(path);
    if (entry.state !== 'accepted') return;
    const bucket = this.buckets.get(entry.studyInstanceUid);
    bucket?.paths.delete(path);
    if (bucket?.paths.size === 0) this.buckets.delete(entry.studyInstanceUid);
  }

  /** lstat, as the walk does not follow symbolic links either. */
  private async statFile(path: string): Promise<FileStat> {
    try {
      return await lstat(path);
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return 'gone';
      return { error: fileErrorReason(error) };
    }
  }

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

function folderErrorReason(error: unknown): string {
  return fileErrorReason(error, { subject: 'folder' });
}

/** Error name and code only: messages may quote paths, and paths may name patients. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${error.name} ${code}` : error.name;
}

async function forEachLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  await mapLimit(items, limit, work);
}

async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
