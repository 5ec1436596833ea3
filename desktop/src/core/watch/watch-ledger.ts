// The folder watcher's memory of its files (waiting, read, handed on, skipped) and of the studies settling: state transitions only, time passed in, no timers and no file system.
import type { ErrorCode } from '../../common/error-codes.js';
import type { HeaderResult } from '../dicom/header-reader.js';
import type { CompletenessResult } from './instance-completeness.js';

/** One instance of a settled study, as it was on disk when the study settled. */
export interface SettledFile {
  path: string;
  sopInstanceUid: string;
  size: number;
  mtimeMs: number;
}

export interface SettlingStudy {
  studyInstanceUid: string;
  instances: number;
  /** 0 when due: it settles at the next check, or as soon as the folder is back and walked. */
  settlesInMs: number;
}

/** A file's size and mtime: what tells one version of it from the next. */
export interface FileVersion {
  size: number;
  mtimeMs: number;
}

/**
 * What is known about one file. An entry object is replaced, never edited, whenever the file's size
 * or mtime or its state changes, so an asynchronous step can tell its result went stale by checking
 * that the ledger still holds the same object. Only bookkeeping fields (seen, wait, reading) are edited in place.
 */
export type LedgerEntry = FileVersion & {
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
export type PendingEntry = Extract<LedgerEntry, { state: 'pending' }>;

export interface StudyBucket {
  /** Monotonic time the latest instance was accepted into it; the quiet period counts from here. */
  lastAddedAt: number;
  paths: Set<string>;
}

/** A file given up on: the watcher reports it. */
export interface Skip {
  code: ErrorCode;
  reason: string;
}

/** What a pending file, as a stat now finds it, is to do next. */
export type PendingStep = 'changed' | 'wait' | 'read' | Skip;

export interface WatchLedgerTiming {
  stabilityMs: number;
  studyQuietMs: number;
  maxIncompleteWaitMs: number;
}

/**
 * Every call that can change a time takes `now` (monotonic ms) and, where a file is newly seen,
 * `wallNow` (epoch ms, for the status's "last file seen").
 */
export class WatchLedger {
  private readonly files = new Map<string, LedgerEntry>();
  private readonly pendingPaths = new Set<string>();
  private readonly buckets = new Map<string, StudyBucket>();
  private scanNumber = 0;
  private lastSeenAt: number | null = null;
  private lastSeenPath: string | null = null;

  constructor(private readonly timing: WatchLedgerTiming) {}

  get(path: string): LedgerEntry | undefined {
    return this.files.get(path);
  }

  /** Whether `entry` is still what is known about `path` (else an asynchronous result went stale). */
  holds(path: string, entry: LedgerEntry | undefined): entry is LedgerEntry {
    return entry !== undefined && this.files.get(path) === entry;
  }

  /** Every file remembered (waiting, settling, handed on, skipped). */
  get knownFiles(): number {
    return this.files.size;
  }

  /** The files noticed but not yet taken: still being written, or waiting for the rest of the file. */
  pending(): string[] {
    return [...this.pendingPaths];
  }

  /** The studies with instances waiting to settle. */
  studies(): [string, StudyBucket][] {
    return [...this.buckets];
  }

  /** Whether `bucket` is still the study's (not settled, nor emptied, meanwhile). */
  holdsStudy(studyInstanceUid: string, bucket: StudyBucket): boolean {
    return this.buckets.get(studyInstanceUid) === bucket;
  }

  get lastFileSeenAt(): number | null {
    return this.lastSeenAt;
  }

  get lastFileSeenPath(): string | null {
    return this.lastSeenPath;
  }

  settling(now: number): SettlingStudy[] {
    return [...this.buckets].map(([studyInstanceUid, bucket]) => ({
      studyInstanceUid,
      instances: bucket.paths.size,
      settlesInMs: Math.max(0, Math.ceil(this.settleAt(studyInstanceUid, bucket) - now)),
    }));
  }

  // ---- files --------------------------------------------------------------------------------

  /** A file was added or changed (a notification with its size and mtime, or a walk without). */
  notice(path: string, version: FileVersion | undefined, now: number, wallNow: number): void {
    const entry = this.files.get(path);
    if (!entry) {
      this.put(path, this.pendingEntry(path, now, wallNow, version, undefined));
      return;
    }
    entry.touchedAt = now;
    entry.seenInScan = this.scanNumber;
    if (!version || (version.size === entry.size && version.mtimeMs === entry.mtimeMs)) return;
    this.put(path, this.pendingEntry(path, now, wallNow, version, entry));
  }

  /** The file is not as it was read or last seen: it waits again from now. */
  changed(path: string, version: FileVersion, now: number, wallNow: number): void {
    this.put(path, this.pendingEntry(path, now, wallNow, version, this.files.get(path)));
  }

  /** Decides, from a fresh stat of a pending file, whether it changed, waits, is given up on, or is read. */
  step(path: string, entry: PendingEntry, version: FileVersion, now: number, wallNow: number): PendingStep {
    if (version.size !== entry.size || version.mtimeMs !== entry.mtimeMs) {
      this.changed(path, version, now, wallNow);
      return 'changed';
    }
    if (now - entry.changedAt < this.timing.stabilityMs) return 'wait';
    const wait = entry.wait;
    if (wait && now - wait.since >= this.timing.maxIncompleteWaitMs) return this.skip(path, entry, wait.code, `${wait.reason}; gave up waiting for it`);
    // A cut-short file is read again only once it changes (which replaces the entry); a locked or
    // unreadable one (Windows locks a file its writer holds) is simply tried again a while later.
    if (wait?.kind === 'incomplete') return 'wait';
    if (wait?.kind === 'unreadable' && now - wait.lastTry < this.timing.stabilityMs) return 'wait';
    if (entry.size === 0) {
      this.waitFor(path, entry, 'incomplete', 'FILE_TRUNCATED', 'the file is still empty', now);
      return 'wait';
    }
    return 'read';
  }

  /**
   * A stable file was read (`after` is its stat once read): takes it into its study if it did not
   * change meanwhile and is whole, else lets it wait or skips it (returned, for the watcher to report).
   */
  read(path: string, entry: PendingEntry, after: FileVersion, header: HeaderResult, completeness: CompletenessResult, now: number, wallNow: number): Skip | undefined {
    if (!this.holds(path, entry)) return undefined;
    if (after.size !== entry.size || after.mtimeMs !== entry.mtimeMs) {
      // Written to while being read: it was not finished after all.
      this.changed(path, after, now, wallNow);
      return undefined;
    }
    if (!header.ok) {
      // Cut inside its image data, a file has already named its study: that study waits for it.
      if (header.code === 'FILE_TRUNCATED') this.waitFor(path, entry, 'incomplete', header.code, header.reason, now, header.studyInstanceUid);
      else if (header.code === 'FILE_UNREADABLE') this.waitFor(path, entry, 'unreadable', header.code, header.reason, now);
      else return this.skip(path, entry, header.code, header.reason);
      return undefined;
    }
    if (!completeness.complete) {
      this.waitFor(path, entry, 'incomplete', 'FILE_TRUNCATED', completeness.reason, now, header.header.study.instanceUid);
      return undefined;
    }
    const studyInstanceUid = header.header.study.instanceUid;
    this.put(path, {
      state: 'accepted', size: entry.size, mtimeMs: entry.mtimeMs, seenInScan: entry.seenInScan, touchedAt: entry.touchedAt,
      studyInstanceUid, sopInstanceUid: header.header.sopInstanceUid,
    });
    let bucket = this.buckets.get(studyInstanceUid);
    if (!bucket) {
      bucket = { lastAddedAt: now, paths: new Set() };
      this.buckets.set(studyInstanceUid, bucket);
    }
    bucket.paths.add(path);
    bucket.lastAddedAt = now;
    return undefined;
  }

  /** The stable file cannot be taken yet; the wait counts from the first such try. */
  waitFor(path: string, entry: PendingEntry, kind: 'incomplete' | 'unreadable', code: ErrorCode, reason: string, now: number, studyInstanceUid?: string): void {
    if (!this.holds(path, entry)) return;
    entry.wait = { kind, since: entry.wait?.since ?? now, lastTry: now, code, reason, ...(studyInstanceUid ? { studyInstanceUid } : {}) };
  }

  /** Forgets a file that is gone, so memory holds only what is in the folder. */
  forget(path: string): void {
    const entry = this.files.get(path);
    if (!entry) return;
    this.detach(path, entry);
    this.files.delete(path);
  }

  private skip(path: string, entry: LedgerEntry, code: ErrorCode, reason: string): Skip {
    this.put(path, { state: 'skipped', size: entry.size, mtimeMs: entry.mtimeMs, seenInScan: entry.seenInScan, touchedAt: entry.touchedAt });
    return { code, reason };
  }

  /**
   * A new pending entry. A file that was already pending keeps its first-seen time; one that had
   * been handed on or skipped and then changed is new content and starts over.
   */
  private pendingEntry(path: string, now: number, wallNow: number, version: FileVersion | undefined, previous: LedgerEntry | undefined): PendingEntry {
    this.lastSeenAt = wallNow;
    this.lastSeenPath = path;
    return {
      state: 'pending',
      // -1 until the first stat: the first look then counts as a change, and stability starts there.
      size: version?.size ?? -1,
      mtimeMs: version?.mtimeMs ?? -1,
      seenInScan: this.scanNumber,
      touchedAt: now,
      firstSeenAt: previous?.state === 'pending' ? previous.firstSeenAt : now,
      changedAt: now,
      reading: false,
    };
  }

  /** Sets a file's entry, keeping the pending set and the study buckets in step (read() files an accepted one in its study). */
  private put(path: string, entry: LedgerEntry): void {
    const previous = this.files.get(path);
    if (previous) this.detach(path, previous);
    this.files.set(path, entry);
    if (entry.state === 'pending') this.pendingPaths.add(path);
  }

  private detach(path: string, entry: LedgerEntry): void {
    this.pendingPaths.delete(path);
    if (entry.state !== 'accepted') return;
    const bucket = this.buckets.get(entry.studyInstanceUid);
    bucket?.paths.delete(path);
    if (bucket?.paths.size === 0) this.buckets.delete(entry.studyInstanceUid);
  }

  // ---- studies ------------------------------------------------------------------------------

  /**
   * When a study may settle: studyQuietMs after its last new instance, or after the last change of
   * a file still being written that was already there when that instance arrived (it may be one of
   * this study's, and copies run in parallel). Files that appear later do not hold the study back,
   * so a folder that never stops receiving cannot starve a finished study; they settle on their own.
   * An instance of this very study whose copy stalled part way holds it back until the copy
   * resumes or the watcher gives up on that file.
   */
  settleAt(studyInstanceUid: string, bucket: StudyBucket): number {
    let quietSince = bucket.lastAddedAt;
    let heldUntil = 0;
    for (const path of this.pendingPaths) {
      const entry = this.files.get(path);
      if (entry?.state !== 'pending') continue;
      if (entry.firstSeenAt <= bucket.lastAddedAt && entry.changedAt > quietSince) quietSince = entry.changedAt;
      if (entry.wait?.studyInstanceUid === studyInstanceUid) heldUntil = Math.max(heldUntil, entry.wait.since + this.timing.maxIncompleteWaitMs);
    }
    return Math.max(quietSince + this.timing.studyQuietMs, heldUntil);
  }

  /** The study's quiet period starts again from `now` (a file of it changed after it was read). */
  restartQuiet(bucket: StudyBucket, now: number): void {
    bucket.lastAddedAt = now;
  }

  /** Hands the study on: its taken files, sorted by path, are marked handed on and returned. */
  settle(studyInstanceUid: string, bucket: StudyBucket): SettledFile[] {
    const files: SettledFile[] = [];
    for (const path of [...bucket.paths].sort()) {
      const entry = this.files.get(path);
      if (entry?.state !== 'accepted') continue;
      files.push({ path, sopInstanceUid: entry.sopInstanceUid, size: entry.size, mtimeMs: entry.mtimeMs });
      this.put(path, { state: 'emitted', size: entry.size, mtimeMs: entry.mtimeMs, seenInScan: entry.seenInScan, touchedAt: entry.touchedAt });
    }
    this.buckets.delete(studyInstanceUid);
    return files;
  }

  // ---- reconcile walks ----------------------------------------------------------------------

  /** A walk begins; returns its number. */
  beginScan(): number {
    return ++this.scanNumber;
  }

  /** The walk numbered `scan` saw the file; returns what is known of it (undefined: new to the ledger). */
  seen(path: string, scan: number): LedgerEntry | undefined {
    const entry = this.files.get(path);
    if (entry) entry.seenInScan = scan;
    return entry;
  }

  /** After a walk that read every subfolder: forgets the files it did not see and that were not noticed since it began. */
  forgetUnseen(scan: number, startedAt: number): number {
    let forgotten = 0;
    for (const [path, entry] of [...this.files]) {
      if (entry.seenInScan !== scan && entry.touchedAt < startedAt) {
        this.forget(path);
        forgotten++;
      }
    }
    return forgotten;
  }

  /** Files the notifications missed may belong to a study waiting to settle: every study stays quiet until at least `now`. */
  holdAllStudies(now: number): void {
    for (const bucket of this.buckets.values()) bucket.lastAddedAt = Math.max(bucket.lastAddedAt, now);
  }
}
