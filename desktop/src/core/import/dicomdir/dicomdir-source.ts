import { open } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileRangeReader } from '@relaypacs/dicom';
import type { ErrorCode } from '../../../common/error-codes.js';
import { folderSource } from '../folder-source.js';
import type { ImportSource, SourceItem } from '../import-source.js';
import { DicomdirFormatError, readDirectoryRecords, type DirectoryRecord } from './dicomdir-reader.js';
import { ReferencedFileResolver, isSafeFileIdComponent } from './referenced-file-resolver.js';
import { fileErrorReason } from '../../file-error-reason.js';

/**
 * A DICOMDIR of a full Blu-ray is tens of MB; anything past this is not a real one, and walking it
 * would only cost time before the scan that follows anyway.
 */
export const MAX_DICOMDIR_BYTES = 256 * 1024 * 1024;

/**
 * The files of DICOM media (CD, DVD, USB export) as its DICOMDIR lists them (PS3.10 §8.6, the
 * Basic Directory IOD of PS3.3 F.3).
 *
 * - Every record that has a Referenced File ID (IMAGE, SR DOCUMENT, PRESENTATION, ... PS3.3 F.5) is
 *   yielded once, in directory order; a record referencing a file that is not on the medium is
 *   reported as skipped ("listed in DICOMDIR but missing") and the rest go on.
 * - The DICOMDIR itself is never yielded: it is an index, not an image.
 * - Files on the medium that the DICOMDIR does not list are NOT imported when the DICOMDIR is
 *   usable: media carry viewers, autorun files and reports beside the images, and the directory is
 *   the exporter's own statement of what the study is.
 * - When the DICOMDIR cannot be used (unreadable, damaged, not a DICOMDIR, absurdly large, lists no
 *   files, or none of the files it lists exist), one skipped item for the DICOMDIR says why and the
 *   whole folder is scanned instead (without the DICOMDIR), so nothing on the medium is lost.
 */
export async function* dicomdirSource(dicomdirPath: string): ImportSource {
  const directory = await loadDirectory(dicomdirPath);
  if (!directory.ok) {
    yield* scanInstead(dicomdirPath, directory.code, directory.reason);
    return;
  }
  const { fileRecords } = directory;
  const root = dirname(dicomdirPath);
  const resolver = new ReferencedFileResolver(root);
  const yielded = new Set<string>();
  // Missing files are held back until the first listed file is found: if none is, the medium is
  // not the one the DICOMDIR describes (renamed folders, a partial copy) and the scan takes over.
  let heldBack: SourceItem[] | undefined = [];
  for (const record of fileRecords) {
    const resolution = await resolver.resolve(record.fileId);
    if (resolution.found) {
      // A file listed twice (some writers repeat it under two series records) is one file.
      if (yielded.has(resolution.path)) continue;
      yielded.add(resolution.path);
      if (heldBack) {
        yield* heldBack;
        heldBack = undefined;
      }
      yield { kind: 'file', file: { path: resolution.path, displayName: resolution.path } };
    } else {
      const item: SourceItem = { kind: 'skipped', skipped: { displayName: referenceName(dicomdirPath, root, record), code: 'FILE_UNREADABLE', reason: resolution.reason } };
      if (heldBack) heldBack.push(item);
      else yield item;
    }
  }
  if (heldBack) {
    yield* scanInstead(dicomdirPath, 'FILE_UNREADABLE', `none of the ${fileRecords.length} files the DICOMDIR lists were found`);
  }
}

type LoadedDirectory = { ok: true; fileRecords: DirectoryRecord[] } | { ok: false; code: ErrorCode; reason: string };

async function loadDirectory(dicomdirPath: string): Promise<LoadedDirectory> {
  let handle;
  try {
    handle = await open(dicomdirPath, 'r');
  } catch (error) {
    return { ok: false, code: 'FILE_UNREADABLE', reason: `the DICOMDIR could not be opened (${errnoText(error)})` };
  }
  let contents;
  try {
    const { size } = await handle.stat();
    if (size > MAX_DICOMDIR_BYTES) {
      return { ok: false, code: 'FILE_NOT_DICOM', reason: `the DICOMDIR is ${Math.round(size / 1024 / 1024)} MB, larger than any real one` };
    }
    // Walked in bounded reads through the handle, never loaded whole.
    contents = await readDirectoryRecords(fileRangeReader(handle), size);
  } catch (error) {
    if (error instanceof DicomdirFormatError) return { ok: false, code: error.code, reason: error.reason };
    return { ok: false, code: 'FILE_UNREADABLE', reason: `the DICOMDIR could not be read (${errnoText(error)})` };
  } finally {
    await handle.close();
  }
  if (contents.fileRecords.length === 0) {
    return { ok: false, code: 'FILE_NOT_DICOM', reason: contents.recordCount === 0 ? 'the DICOMDIR has no directory records' : 'the DICOMDIR lists no files' };
  }
  return { ok: true, fileRecords: contents.fileRecords };
}

/** One note for the DICOMDIR, then every file in its folder except the DICOMDIR itself. */
async function* scanInstead(dicomdirPath: string, code: ErrorCode, reason: string): ImportSource {
  yield { kind: 'skipped', skipped: { displayName: dicomdirPath, code, reason: `${reason}; every file in its folder is imported instead` } };
  const self = resolve(dicomdirPath);
  for await (const item of folderSource(dirname(dicomdirPath))) {
    if (item.kind === 'file' && resolve(item.file.path) === self) continue;
    yield item;
  }
}

/**
 * Where a listed file should have been. A reference that tries to leave the medium is shown as the
 * DICOMDIR's entry (`DICOMDIR › ..\..\X`), never as the outside path it points to.
 */
function referenceName(dicomdirPath: string, root: string, record: DirectoryRecord): string {
  const safe = record.fileId.every(isSafeFileIdComponent);
  return safe ? join(root, ...record.fileId) : `${dicomdirPath} › ${record.fileId.join('\\')}`;
}

function errnoText(error: unknown): string {
  return fileErrorReason(error, { action: 'opened' });
}
