import type { Dirent } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImportSource, SourceItem } from './import-source.js';
import { fileErrorReason } from '../file-error-reason.js';

/**
 * Every regular file under `root` (or `root` itself when it is a file), depth first and in name
 * order within each folder, read from the directory handles one folder at a time. Symbolic links are not followed (a CD export has none; a loop would never end). A folder that
 * cannot be read or vanishes mid-scan is reported and skipped; the rest goes on.
 */
export async function* folderSource(root: string): ImportSource {
  let rootStats;
  try {
    rootStats = await lstat(root);
  } catch (error) {
    yield unreadable(root, error);
    return;
  }
  if (rootStats.isFile()) {
    yield { kind: 'file', file: { path: root, displayName: root } };
    return;
  }
  if (!rootStats.isDirectory()) {
    yield { kind: 'skipped', skipped: { displayName: root, code: 'FILE_UNREADABLE', reason: 'not a regular file or folder' } };
    return;
  }
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let handle;
    try {
      handle = await opendir(dir, { bufferSize: 256 });
    } catch (error) {
      yield unreadable(dir, error);
      continue;
    }
    const subfolders: string[] = [];
    const files: string[] = [];
    try {
      for await (const entry of handle as AsyncIterable<Dirent>) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) subfolders.push(path);
        else if (entry.isFile()) files.push(path);
        // symbolic links, sockets, devices: not images
      }
    } catch (error) {
      yield unreadable(dir, error);
    }
    // In name order, so an import walks media the same way every time (CD exports are named IM0001,
    // IM0002...) and, of two files with one SOP Instance UID, the first by name is the one sent.
    // One folder's names at a time: a folder of 100,000 files costs a few megabytes.
    for (const path of files.sort()) yield { kind: 'file', file: { path, displayName: path } };
    pending.push(...subfolders.sort().reverse());
  }
}

function unreadable(path: string, error: unknown): SourceItem {
  return { kind: 'skipped', skipped: { displayName: path, code: 'FILE_UNREADABLE', reason: fileErrorReason(error) } };
}
