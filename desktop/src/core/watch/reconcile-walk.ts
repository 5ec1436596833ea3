// One reconcile walk of a watched folder: takes in the files no notification announced and forgets those no longer there.
import type { Stats } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { folderSource } from '../import/folder-source.js';
import { mapPaths, statFile } from './folder-presence.js';
import { isIgnoredPath } from './watch-ignore.js';
import type { WatchLedger } from './watch-ledger.js';

export interface ReconcileWalkContext {
  folder: string;
  ledger: WatchLedger;
  /** False once the watcher stopped or the folder went away: the walk then gives up. */
  live: () => boolean;
  /** Takes in a file (without stats: found by the walk; with: a skipped file looked at again). */
  notice: (path: string, stats?: Stats) => void;
}

export type ReconcileWalkResult =
  | { outcome: 'done'; files: number; found: number; forgotten: number }
  | { outcome: 'stopped' }
  /** The folder itself could not be read: it went away. */
  | { outcome: 'folder-unreadable' };

/**
 * Walks the whole folder: files no notification announced are taken in; files it no longer
 * holds are forgotten, but only after a walk that read every subfolder, and only those not
 * noticed since the walk began (a file can arrive behind the walk's back).
 */
export async function reconcileWalk({ folder, ledger, live, notice }: ReconcileWalkContext): Promise<ReconcileWalkResult> {
  const scan = ledger.beginScan();
  const startedAt = performance.now();
  let complete = true;
  let files = 0;
  let found = 0;
  const recheck: string[] = [];
  for await (const item of folderSource(folder)) {
    if (!live()) return { outcome: 'stopped' };
    if (item.kind === 'skipped') {
      complete = false;
      if (item.skipped.displayName === folder) return { outcome: 'folder-unreadable' };
      continue;
    }
    const path = item.file.path;
    if (isIgnoredPath(folder, path)) continue;
    files++;
    const entry = ledger.seen(path, scan);
    if (entry) {
      // A skipped file that changed unnoticed deserves another look; handed-on files are many, and changes to them are rare.
      if (entry.state === 'skipped') recheck.push(path);
    } else {
      found++;
      notice(path);
    }
  }
  const forgotten = complete ? ledger.forgetUnseen(scan, startedAt) : 0;
  await mapPaths(recheck, async (path) => {
    const stats = await statFile(path);
    if (stats !== 'gone' && !('error' in stats)) notice(path, stats);
  });
  // Files the notifications missed may belong to a study waiting to settle: give them time to be read.
  if (found > 0) ledger.holdAllStudies(performance.now());
  return { outcome: 'done', files, found, forgotten };
}
