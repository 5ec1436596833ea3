import { constants } from 'node:fs';
import { copyFile, link, lstat, mkdir, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ErrorCode } from '../../common/error-codes.js';
import { isSameOrInside, type WatchedFolderConfig } from './watched-folder-config.js';
import { fileErrorReason } from '../file-error-reason.js';

export type AfterDeliveryOutcome = 'kept' | 'moved' | 'deleted' | 'failed';

export interface AfterDeliveryResult {
  path: string;
  outcome: AfterDeliveryOutcome;
  /** Where a moved file now is (a suffix added when the name was taken). */
  movedTo?: string;
  code?: ErrorCode;
  reason?: string;
}

/** Only what this step needs, so a resolved or a raw configuration both fit. */
export type AfterDeliveryConfig = Pick<WatchedFolderConfig, 'path' | 'afterDelivery' | 'doneFolder'>;

const MAX_SUFFIX = 10_000;
/** Error codes that mean "this file system cannot hard-link": fall back to a checked rename. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK', 'EINVAL']);
/**
 * Done-folder names being placed right now by this process. Two watched folders may share a done
 * folder and both hold S001/IM00001; the check-then-rename fallback is only safe if no one else in
 * the process takes the same name in between.
 */
const reserved = new Set<string>();

/**
 * What to do with a study's files once the PACS has confirmed delivery: keep them, move them to
 * the done folder (relative paths kept, folders made, an existing file never replaced: the new one
 * gets a _2, _3... suffix), or delete them. Each file gets its own result; one failure never stops
 * the others, and nothing here throws for a file. Only files inside the watched folder are touched.
 */
export async function applyAfterDelivery(config: AfterDeliveryConfig, files: readonly { path: string }[]): Promise<AfterDeliveryResult[]> {
  const root = resolve(config.path);
  const refusal = configProblem(config, root);
  const results: AfterDeliveryResult[] = [];
  // One at a time: moves and deletes are quick, and a share is not helped by a crowd.
  for (const { path } of files) {
    if (refusal) {
      results.push({ path, outcome: 'failed', code: 'INVALID_REQUEST', reason: refusal });
      continue;
    }
    const rel = relative(root, resolve(path));
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      results.push({ path, outcome: 'failed', code: 'INVALID_REQUEST', reason: 'the file is not inside the watched folder' });
      continue;
    }
    if (config.afterDelivery === 'keep') results.push({ path, outcome: 'kept' });
    else if (config.afterDelivery === 'delete') results.push(await deleteOne(path));
    else results.push(await moveOne(path, join(resolve(config.doneFolder as string), rel)));
  }
  return results;
}

function configProblem(config: AfterDeliveryConfig, root: string): string | undefined {
  if (config.afterDelivery === 'keep' || config.afterDelivery === 'delete') return undefined;
  if (config.afterDelivery !== 'move') return 'afterDelivery must be "keep", "move" or "delete"';
  if (!config.doneFolder || !isAbsolute(config.doneFolder)) return 'no done folder is set for "move"';
  const done = resolve(config.doneFolder);
  if (isSameOrInside(root, done) || isSameOrInside(done, root)) return 'the done folder and the watched folder overlap';
  return undefined;
}

async function deleteOne(path: string): Promise<AfterDeliveryResult> {
  try {
    await unlink(path);
    return { path, outcome: 'deleted' };
  } catch (error) {
    return failed(path, error, 'deleted');
  }
}

async function moveOne(path: string, target: string): Promise<AfterDeliveryResult> {
  try {
    await mkdir(dirname(target), { recursive: true });
    for (let n = 1; n <= MAX_SUFFIX; n++) {
      const candidate = n === 1 ? target : withSuffix(target, n);
      if (reserved.has(candidate)) continue;
      reserved.add(candidate);
      try {
        if (await placeAt(path, candidate)) return { path, outcome: 'moved', movedTo: candidate };
      } finally {
        reserved.delete(candidate);
      }
    }
    return { path, outcome: 'failed', code: 'FILE_UNREADABLE', reason: `the done folder already holds ${MAX_SUFFIX} files of that name` };
  } catch (error) {
    return failed(path, error, 'moved');
  }
}

/**
 * Moves `source` to `destination` unless that name is taken (false). A hard link is an atomic
 * "create only if absent", so the file is at one name or both, never at none and never over another
 * file; the source name is then removed. A rename would silently replace an existing file.
 */
async function placeAt(source: string, destination: string): Promise<boolean> {
  try {
    await link(source, destination);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (code === 'EXDEV') return copyThenRemove(source, destination);
    if (NO_HARD_LINKS.has(code)) return renameIfFree(source, destination);
    throw error;
  }
  await removeSourceOrUndo(source, destination);
  return true;
}

/** The done folder is on another volume: copy (never over an existing file), then remove the original. */
async function copyThenRemove(source: string, destination: string): Promise<boolean> {
  try {
    await copyFile(source, destination, constants.COPYFILE_EXCL);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    await rm(destination, { force: true }).catch(() => undefined);
    throw error;
  }
  await removeSourceOrUndo(source, destination);
  return true;
}

/** File systems without hard links (FAT, some shares): look, then rename; `reserved` covers this process. */
async function renameIfFree(source: string, destination: string): Promise<boolean> {
  try {
    await lstat(destination);
    return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await rename(source, destination);
  return true;
}

/** If the original cannot be removed, take the copy back: a file left in both places would be "moved" and "kept" at once. */
async function removeSourceOrUndo(source: string, destination: string): Promise<void> {
  try {
    await unlink(source);
  } catch (error) {
    await unlink(destination).catch(() => undefined);
    throw error;
  }
}

/** IM00001.dcm → IM00001_2.dcm; a UID-style name without a real extension (1.2.840.1) → 1.2.840.1_2. */
export function withSuffix(path: string, n: number): string {
  const name = basename(path);
  const match = /^(.+?)(\.[A-Za-z][A-Za-z0-9]{0,4})$/.exec(name);
  return join(dirname(path), match ? `${match[1]}_${n}${match[2]}` : `${name}_${n}`);
}

function failed(path: string, error: unknown, verb: 'moved' | 'deleted'): AfterDeliveryResult {
  return { path, outcome: 'failed', code: 'FILE_UNREADABLE', reason: fileErrorReason(error, { action: verb }) };
}
