import { open, mkdir, mkdtemp, rmdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ErrorCode } from '../../../common/error-codes.js';
import type { ImportSource, SourceItem } from '../import-source.js';
import { ExpansionBudget } from './expansion-budget.js';
import { ZipArchive } from './zip-archive.js';
import { diskName, entryDisplayName, entryName } from './zip-entry-name.js';
import { extractEntry } from './zip-entry-extractor.js';
import { classifyEntry } from './zip-entry-policy.js';
import { resolveZipLimits, type ZipLimits } from './zip-limits.js';
import { errnoCode, fileErrorReason } from '../../file-error-reason.js';

export { DEFAULT_ZIP_LIMITS, type ZipLimits } from './zip-limits.js';

export interface ZipSourceOptions {
  /** The app's temp area. Each archive unpacks into a new folder inside it. */
  tempDir: string;
  limits?: Partial<ZipLimits>;
}

/**
 * Every regular file in a ZIP archive (ZIP64 and archives over 4 GB included), each streamed out
 * into a new folder of the app's temp area under a generated name and yielded as a file on disk
 * shown as `archive.zip › folder/file`. The extracted files belong to the consumer from then on:
 * the catalog refers to them until they are uploaded, so nothing here deletes a yielded file.
 *
 * Refused with a reason, entry by entry: names that point outside the archive (zip slip), symbolic
 * links and devices, password-protected entries, compression methods other than Store and Deflate,
 * damaged entries. Refused for the rest of the archive: anything that crosses a cap of ZipLimits
 * (a zip bomb), counted on the bytes that really come out. A file that is not a ZIP, is cut short
 * or has a damaged directory becomes one skipped item; entries already yielded stay valid.
 *
 * Folders are passed over. Breaking out of the loop closes the archive.
 */
export async function* zipSource(archivePath: string, options: ZipSourceOptions): ImportSource {
  const limits = resolveZipLimits(options.limits);
  const archiveName = basename(archivePath);

  let archive: ZipArchive;
  try {
    archive = await ZipArchive.open(archivePath);
  } catch (error) {
    yield await unopenable(archivePath, error);
    return;
  }

  let folder: string | undefined;
  let unpacked = 0;
  try {
    // The directory's count is exactly how many records yauzl will read (it stops there), so it
    // bounds the work honestly and lets a hostile archive be refused before anything is unpacked.
    if (archive.entryCount > limits.maxEntries) {
      yield skipped(archivePath, 'ARCHIVE_REFUSED', `the archive lists ${archive.entryCount} entries, more than the limit of ${limits.maxEntries}; nothing in it was unpacked`);
      return;
    }
    if (archive.entryCount === 0 && await startsLikeZip(archivePath)) {
      // An empty archive is only an end record; this one starts with an entry its directory does not count.
      yield skipped(archivePath, 'ARCHIVE_REFUSED', "the archive's directory lists no entries although the archive holds some: the directory is damaged; nothing in it was unpacked");
      return;
    }
    const budget = new ExpansionBudget(limits, archive.fileSize);
    for (let index = 1; ; index++) {
      let entry;
      try {
        entry = await archive.next();
      } catch (error) {
        const remaining = archive.entryCount - archive.entriesRead;
        yield skipped(archivePath, 'ARCHIVE_REFUSED', `the archive's directory is damaged after ${archive.entriesRead} of its ${archive.entryCount} entries (${(error as Error).message}); ${notUnpacked(remaining)}`);
        return;
      }
      if (entry === null) return;

      const name = entryName(entry);
      const displayName = entryDisplayName(archiveName, name);
      const verdict = classifyEntry(entry, name);
      if (verdict.kind === 'folder') continue;
      if (verdict.kind === 'refused') {
        yield skipped(displayName, 'ARCHIVE_REFUSED', verdict.reason);
        continue;
      }

      const admitted = budget.admit(entry);
      if (admitted !== null) {
        yield skipped(displayName, 'ARCHIVE_REFUSED', `${admitted}. Unpacking stopped here: ${notUnpacked(archive.entryCount - archive.entriesRead)}`);
        return;
      }

      if (folder === undefined) {
        try {
          folder = await newFolder(options.tempDir);
        } catch (error) {
          yield skipped(archivePath, 'INTERNAL', `the app's temporary folder could not be prepared (${errorCode(error)}); nothing in the archive was unpacked`);
          return;
        }
      }
      const path = join(folder, diskName(index, name));
      const outcome = await extractEntry(archive, entry, path, budget);
      if (outcome.ok) {
        unpacked++;
        yield { kind: 'file', file: { path, displayName } };
      } else if (outcome.stopsArchive) {
        yield skipped(displayName, outcome.code, `${outcome.reason}. Unpacking stopped here: ${notUnpacked(archive.entryCount - archive.entriesRead)}`);
        return;
      } else {
        yield skipped(displayName, outcome.code, outcome.reason);
      }
    }
  } finally {
    await archive.close();
    // A folder whose every entry failed is left empty: remove it (rmdir never removes files).
    if (folder !== undefined && unpacked === 0) await rmdir(folder).catch(() => undefined);
  }
}

async function newFolder(tempDir: string): Promise<string> {
  await mkdir(tempDir, { recursive: true });
  return mkdtemp(join(tempDir, 'zip-'));
}

function notUnpacked(remaining: number): string {
  if (remaining <= 0) return 'it was the last entry of the archive';
  return remaining === 1 ? 'the 1 remaining entry of the archive was not unpacked' : `the ${remaining} remaining entries of the archive were not unpacked`;
}

/** Why the archive could not be opened at all: unreadable, not a ZIP, cut short, or damaged. */
async function unopenable(archivePath: string, error: unknown): Promise<SourceItem> {
  if ((error as NodeJS.ErrnoException).syscall !== undefined) {
    return skipped(archivePath, 'FILE_UNREADABLE', fileErrorReason(error, { subject: 'archive' }));
  }
  if (/end of central directory record signature not found/i.test((error as Error).message)) {
    // No end record. A file that starts like a ZIP lost its end (an interrupted copy or download);
    // anything else was never a ZIP.
    return await startsLikeZip(archivePath)
      ? skipped(archivePath, 'FILE_TRUNCATED', 'the archive ends early (it was cut off while being copied or downloaded), so its directory is missing; nothing in it could be unpacked')
      : skipped(archivePath, 'FILE_NOT_DICOM', 'the file is not a ZIP archive');
  }
  return skipped(archivePath, 'ARCHIVE_REFUSED', `the archive's directory is damaged or in a form RelayPACS cannot read (${(error as Error).message}); nothing in it was unpacked`);
}

/** A local file header signature at offset 0, "PK\3\4" (APPNOTE.TXT 4.3.7). */
async function startsLikeZip(path: string): Promise<boolean> {
  try {
    const handle = await open(path, 'r');
    try {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
      return bytesRead === 4 && buffer.readUInt32LE(0) === 0x04034b50;
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  }
}

/** The errno code only: an error's message holds a path, which can name a patient. */
function errorCode(error: unknown): string {
  return errnoCode(error) ?? 'no error code';
}

function skipped(displayName: string, code: ErrorCode, reason: string): SourceItem {
  return { kind: 'skipped', skipped: { displayName, code, reason } };
}
