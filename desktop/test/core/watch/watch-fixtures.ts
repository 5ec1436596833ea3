// Helpers for the watched-folder tests: studies staged outside the watched folder and then copied
// in the way a modality or a network copy writes them (in pieces, with pauses), a recorder of the
// watcher's events, and waits on conditions rather than fixed sleeps.
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { generateStudy, type StudySpec } from '@relaypacs/testkit';
import { readInstanceHeader, type HeaderResult } from '../../../src/core/dicom/header-reader.js';
import { FolderWatcher, type FolderWatcherEvents, type FolderWatcherOptions, type SettledFile } from '../../../src/core/watch/folder-watcher.js';
import type { WatchedFolderConfig } from '../../../src/core/watch/watched-folder-config.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Small real intervals: the watcher runs its real timers and chokidar its real backend. */
export function fastConfig(path: string, extra: Partial<WatchedFolderConfig> = {}): WatchedFolderConfig {
  return {
    path, serviceLevel: 'ROUTINE', afterDelivery: 'keep',
    stabilityMs: 300, studyQuietMs: 800, pollIntervalMs: 100, reconcileIntervalMs: 300,
    ...extra,
  };
}

export interface StagedInstance {
  /** Path relative to the study's folder, e.g. S001/IM00001.dcm. */
  relPath: string;
  sopInstanceUid: string;
  bytes: Buffer;
}

export interface StagedStudy {
  studyInstanceUid: string;
  instances: StagedInstance[];
}

let staged = 0;

/** Generates a study in `stagingDir` (outside any watched folder) and holds its bytes for copying in. */
export async function stageStudy(stagingDir: string, spec: Partial<StudySpec> = {}): Promise<StagedStudy> {
  const out = join(stagingDir, `study-${++staged}`);
  const study = await generateStudy(out, { instances: 3, rows: 32, columns: 32, ...spec });
  return {
    studyInstanceUid: study.studyInstanceUid,
    instances: await Promise.all(study.instances.map(async (instance) => ({
      relPath: relative(out, instance.path),
      sopInstanceUid: instance.sopInstanceUid,
      bytes: await readFile(instance.path),
    }))),
  };
}

/** Watchers on fresh folders under a work folder, all stopped by stopAll(). */
export class WatchHarness {
  private readonly running: FolderWatcher[] = [];
  private folders = 0;

  constructor(private readonly workDir: () => string) {}

  async watched(extra: Partial<WatchedFolderConfig> = {}, options: FolderWatcherOptions = {}) {
    const folder = join(this.workDir(), `watched-${++this.folders}`);
    await mkdir(folder, { recursive: true });
    const watcher = new FolderWatcher(fastConfig(folder, extra), options);
    const recorder = new WatchRecorder(watcher);
    this.running.push(watcher);
    await watcher.start();
    return { folder, watcher, recorder };
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.running.splice(0).map((watcher) => watcher.stop()));
  }
}

/** A study's files as they should settle from `folder`: path, SOP Instance UID and size, sorted by path. */
export function expectedFiles(study: StagedStudy, folder: string): Omit<SettledFile, 'mtimeMs'>[] {
  return study.instances
    .map((instance) => ({ path: join(folder, instance.relPath), sopInstanceUid: instance.sopInstanceUid, size: instance.bytes.length }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Settled files without mtime, to compare with expectedFiles. */
export function withoutMtime(files: readonly SettledFile[]): Omit<SettledFile, 'mtimeMs'>[] {
  return files.map(({ path, sopInstanceUid, size }) => ({ path, sopInstanceUid, size }));
}

/** Writes a file in `pieces` appends with `pauseMs` between them, as a slow copy does. */
export async function writeInPieces(path: string, bytes: Buffer, pieces: number, pauseMs: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, 'w');
  try {
    const size = Math.ceil(bytes.length / pieces);
    for (let offset = 0; offset < bytes.length; offset += size) {
      if (offset > 0) await sleep(pauseMs);
      await handle.write(bytes.subarray(offset, offset + size));
    }
  } finally {
    await handle.close();
  }
}

/** Copies a staged study into `folder` file by file, each file in two halves with a pause. */
export async function copySlowly(study: StagedStudy, folder: string, pauseMs = 50, betweenFilesMs = 50): Promise<void> {
  for (const instance of study.instances) {
    await writeInPieces(join(folder, instance.relPath), instance.bytes, 2, pauseMs);
    await sleep(betweenFilesMs);
  }
}

type EventName = keyof FolderWatcherEvents;
type Payload<K extends EventName> = FolderWatcherEvents[K][0];

/** Records every event a watcher emits, in order. */
export class WatchRecorder {
  readonly events: { name: EventName; payload: Payload<EventName> }[] = [];

  constructor(watcher: FolderWatcher) {
    const names: EventName[] = ['study-settled', 'file-skipped', 'folder-unavailable', 'folder-available', 'reconciled'];
    for (const name of names) watcher.on(name, (payload: Payload<EventName>) => this.events.push({ name, payload }));
  }

  of<K extends EventName>(name: K): Payload<K>[] {
    return this.events.filter((event) => event.name === name).map((event) => event.payload as Payload<K>);
  }

  count(name: EventName): number {
    return this.of(name).length;
  }
}

/** Resolves once `condition` holds (checked every 20 ms); fails with `what` after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Waits until the watcher has nothing left to emit without a new change on disk: two reconcile
 * walks have finished since now, and nothing waits for stability or to settle.
 */
export async function idle(watcher: FolderWatcher, recorder: WatchRecorder): Promise<void> {
  const walks = recorder.count('reconciled');
  await until(() => {
    const status = watcher.status();
    return recorder.count('reconciled') >= walks + 2 && status.waitingForStability === 0 && status.settling.length === 0;
  }, 'the watcher to be idle');
}

/** The real header reader, noting each file's size at the moment it was read. */
export function readSpy(): { reads: { path: string; size: number }[]; readHeader: (path: string) => Promise<HeaderResult> } {
  const reads: { path: string; size: number }[] = [];
  return {
    reads,
    readHeader: async (path) => {
      reads.push({ path, size: (await stat(path).catch(() => undefined))?.size ?? -1 });
      return readInstanceHeader(path);
    },
  };
}
