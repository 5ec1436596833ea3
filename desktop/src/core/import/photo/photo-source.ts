import { mkdir } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { ImportSource, SourceItem } from '../import-source.js';
import { newUid } from './dicom-uid.js';
import { PhotoConversionError } from './photo-errors.js';
import { wrapPhotoAsSecondaryCapture, type SecondaryCaptureAttributes } from './photo-to-secondary-capture.js';

/**
 * Photos picked together (JPEG, PNG) as an import source: each is wrapped into a Secondary Capture
 * file in `tempDir` (the app's temp area; the caller removes the files once they are indexed or
 * sent) and yielded with the photo's own path as its display name. A photo that cannot be
 * converted becomes a skipped item with its reason and the batch goes on.
 *
 * The batch is one series: the given Series Instance UID, or one new UID for all of them, with
 * instance numbers counting up from `attributes.instanceNumber` (default 1) over the photos that
 * were converted, in the order given.
 */
export async function* photoSource(paths: readonly string[], attributes: SecondaryCaptureAttributes, tempDir: string): ImportSource {
  const seriesInstanceUid = attributes.seriesInstanceUid ?? newUid();
  // The app's temp area may not exist yet on a fresh install.
  await mkdir(tempDir, { recursive: true });
  let instanceNumber = attributes.instanceNumber ?? 1;
  for (const photoPath of paths) {
    const outPath = join(tempDir, `photo-${randomUUID()}.dcm`);
    let item: SourceItem;
    try {
      await wrapPhotoAsSecondaryCapture(photoPath, { ...attributes, seriesInstanceUid, instanceNumber }, outPath);
      instanceNumber++;
      item = { kind: 'file', file: { path: outPath, displayName: photoPath } };
    } catch (error) {
      // Anything else (the temp area is full or gone) stops the batch: no later photo could be written either.
      if (!(error instanceof PhotoConversionError)) throw error;
      item = { kind: 'skipped', skipped: { displayName: photoPath, code: error.code, reason: error.reason } };
    }
    yield item;
  }
}
