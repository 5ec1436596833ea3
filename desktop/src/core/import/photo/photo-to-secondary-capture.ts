import { open } from 'node:fs/promises';
import { newUid } from './dicom-uid.js';
import { writePart10File } from './part10-writer.js';
import { PhotoConversionError, unsupported } from './photo-errors.js';
import { photoImage } from './photo-image.js';
import { checkSecondaryCaptureAttributes, type SecondaryCaptureAttributes } from './secondary-capture-attributes.js';
import { SECONDARY_CAPTURE_IMAGE_STORAGE, secondaryCaptureDataset } from './secondary-capture-dataset.js';
import { fileErrorReason } from '../../file-error-reason.js';

export type { SecondaryCaptureAttributes } from './secondary-capture-attributes.js';
export { PhotoConversionError } from './photo-errors.js';

/** Larger than any photo or scan; a file past this is refused before it is read. */
export const MAX_PHOTO_BYTES = 256 * 1024 * 1024;

export interface WrappedPhoto {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  transferSyntaxUid: string;
}

/**
 * Wraps a JPEG or PNG photo (a wound photo, a scanned request) into a DICOM Secondary Capture
 * Image (PS3.3 A.8.1) at `outPath`, with the patient and study attributes given. A new SOP
 * Instance UID is made each time, and a new Series Instance UID when none is given. See
 * photoImage for how each kind of image is stored.
 *
 * Throws PhotoConversionError (code + reason) for anything wrong with the photo or the attributes:
 * unreadable, truncated, damaged, an unsupported format. Other errors (the output folder is full
 * or read-only) propagate as they are: they are not about this photo.
 */
export async function wrapPhotoAsSecondaryCapture(photoPath: string, attributes: SecondaryCaptureAttributes, outPath: string): Promise<WrappedPhoto> {
  checkSecondaryCaptureAttributes(attributes);
  const image = photoImage(await readPhoto(photoPath));
  const sopInstanceUid = newUid();
  const seriesInstanceUid = attributes.seriesInstanceUid ?? newUid();
  await writePart10File(outPath, {
    elements: secondaryCaptureDataset(attributes, image, seriesInstanceUid, new Date()),
    sopClassUid: SECONDARY_CAPTURE_IMAGE_STORAGE,
    sopInstanceUid,
    transferSyntaxUid: image.transferSyntaxUid,
    pixelData: image.pixelData,
  });
  return { sopInstanceUid, seriesInstanceUid, transferSyntaxUid: image.transferSyntaxUid };
}

/**
 * The bytes of a photo file; a missing, unreadable or oversized file is a PhotoConversionError
 * (FILE_UNREADABLE, PHOTO_UNSUPPORTED) naming the problem, never the path.
 */
export async function readPhoto(photoPath: string): Promise<Buffer> {
  let handle;
  try {
    handle = await open(photoPath, 'r');
  } catch (error) {
    throw unreadable(error);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw unsupported('it is not a regular file');
    if (stats.size > MAX_PHOTO_BYTES) throw unsupported(`the file is ${Math.round(stats.size / 1024 / 1024)} MB, larger than any photo this import converts`);
    return await handle.readFile();
  } catch (error) {
    throw error instanceof PhotoConversionError ? error : unreadable(error);
  } finally {
    await handle.close();
  }
}

function unreadable(error: unknown): PhotoConversionError {
  return new PhotoConversionError('FILE_UNREADABLE', `the photo could not be read (${fileErrorReason(error, { subject: 'photo', action: 'opened' })})`);
}
