import { lstat, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { dicomdirSource } from './dicomdir/dicomdir-source.js';
import { folderSource } from './folder-source.js';
import type { CandidateFile, ImportSource, SourceItem } from './import-source.js';
import { zipSource } from './zip/zip-source.js';
import type { ZipLimits } from './zip/zip-limits.js';

export interface SourceForPathOptions {
  /** The app's temp area: zipSource extracts each archive into a fresh folder under it. */
  tempDir: string;
  zipLimits?: Partial<ZipLimits>;
  /**
   * What becomes of a JPEG or PNG found. By default it is skipped, named as a photo: photos need
   * patient and study details, which a plain import cannot guess. The desktop review passes a hook
   * that keeps it to be attached to a study (answering nothing to import), or answers the item to
   * import instead (the reason it cannot be used, or the file it was already made into).
   */
  photo?: (file: CandidateFile) => Promise<SourceItem | undefined>;
}

const PHOTO = /\.(jpe?g|png)$/i;
const ZIP = /\.zip$/i;
const DICOMDIR = /^dicomdir$/i;

/**
 * Whatever a radiographer drops or points at: a folder (read through its DICOMDIR when it is
 * exported media), a DICOMDIR file, a ZIP, or single files. ZIPs found inside a folder are opened
 * too. Photos need patient and study details, so a plain import names them instead of guessing
 * (see `photo`).
 */
export async function* sourceForPath(path: string, options: SourceForPathOptions): ImportSource {
  const stats = await lstat(path).catch(() => undefined);
  if (stats?.isDirectory()) {
    const media = (await readdir(path).catch(() => [] as string[])).find((name) => DICOMDIR.test(name));
    if (media) {
      yield* dicomdirSource(join(path, media));
      return;
    }
  }
  for await (const item of folderSource(path)) {
    if (item.kind === 'skipped') {
      yield item;
      continue;
    }
    const name = basename(item.file.path);
    if (ZIP.test(name)) {
      yield* zipSource(item.file.path, { tempDir: options.tempDir, ...(options.zipLimits ? { limits: options.zipLimits } : {}) });
    } else if (DICOMDIR.test(name)) {
      if (item.file.path === path) yield* dicomdirSource(path);
      // A DICOMDIR deeper in a folder: its images are imported by the scan itself.
    } else if (PHOTO.test(name) && options.photo) {
      const instead = await options.photo(item.file);
      if (instead) yield instead;
    } else if (PHOTO.test(name)) {
      yield { kind: 'skipped', skipped: { displayName: item.file.displayName, code: 'FILE_NOT_DICOM', reason: 'a photo, not DICOM: add photos to a study to send them' } };
    } else {
      yield item;
    }
  }
}
