import { lstat, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { dicomdirSource } from './dicomdir/dicomdir-source.js';
import { folderSource } from './folder-source.js';
import type { ImportSource } from './import-source.js';
import { zipSource } from './zip/zip-source.js';
import type { ZipLimits } from './zip/zip-limits.js';

export interface SourceForPathOptions {
  /** The app's temp area: zipSource extracts each archive into a fresh folder under it. */
  tempDir: string;
  zipLimits?: Partial<ZipLimits>;
}

const PHOTO = /\.(jpe?g|png)$/i;
const ZIP = /\.zip$/i;
const DICOMDIR = /^dicomdir$/i;

/**
 * Whatever a radiographer drops or points at: a folder (read through its DICOMDIR when it is
 * exported media), a DICOMDIR file, a ZIP, or single files. ZIPs found inside a folder are opened
 * too. Photos need patient and study details, so a plain import names them instead of guessing.
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
    } else if (PHOTO.test(name)) {
      yield { kind: 'skipped', skipped: { displayName: item.file.displayName, code: 'FILE_NOT_DICOM', reason: 'a photo, not DICOM: add photos to a study to send them' } };
    } else {
      yield item;
    }
  }
}
