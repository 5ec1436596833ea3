// Whether the watched folder and its files are there: a check of the folder that never hangs, and stats that tell a file gone from one unreadable, a few at a time.
import type { Stats } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { errnoCode, fileErrorReason } from '../file-error-reason.js';

/** A file's stats, or that it is gone, or why it could not be looked at (in words, no path). */
export type FileStat = Stats | 'gone' | { error: string };

/** lstat, as the walk does not follow symbolic links either. */
export async function statFile(path: string): Promise<FileStat> {
  try {
    return await lstat(path);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'gone';
    return { error: fileErrorReason(error) };
  }
}

/** Checks one folder; concurrent checks share the stat in flight. */
export class FolderPresence {
  private rootStat: Promise<string | undefined> | undefined;

  constructor(private readonly folder: string, private readonly timeoutMs: number) {}

  /** Why the folder cannot be used right now, or undefined when it can. Never hangs. */
  problem(): Promise<string | undefined> {
    // One stat at a time: a dead server can hang each one, and they must not pile up.
    this.rootStat ??= new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(`the folder did not answer within ${Math.round(this.timeoutMs / 1000)} s`), this.timeoutMs);
      stat(this.folder).then(
        (stats) => resolve(stats.isDirectory() ? undefined : 'the path is not a folder'),
        (error: unknown) => resolve(fileErrorReason(error, { subject: 'folder' })),
      ).finally(() => clearTimeout(timer));
    }).finally(() => {
      this.rootStat = undefined;
    });
    return this.rootStat;
  }
}

/** How many files are looked at at once. */
const PARALLEL_STATS = 8;

/** Runs `work` on every path, a few at a time, and returns the results in order. */
export async function mapPaths<R>(paths: readonly string[], work: (path: string) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const index = next++;
      results[index] = await work(paths[index] as string);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_STATS, paths.length) }, worker));
  return results;
}
