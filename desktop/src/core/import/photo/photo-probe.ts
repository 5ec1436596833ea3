import { createHash } from 'node:crypto';
import { photoGeometry } from './photo-image.js';
import { readPhoto } from './photo-to-secondary-capture.js';

export interface PhotoProbe {
  /** Pixels across and down, as the Secondary Capture image will hold them (after the EXIF turn). */
  width: number;
  height: number;
  /** SHA-256 of the file's bytes, hex: the photo's identity whatever it is called. */
  sha256: string;
}

/**
 * Looks at a photo before anyone chooses where it goes: reads it, checks that it is a JPEG or PNG
 * wrapPhotoAsSecondaryCapture converts (without decoding pixels, so a folder of photos is listed
 * quickly), and gives its size and content hash. Throws the PhotoConversionError the conversion
 * would throw for an unreadable, truncated, damaged or unsupported file.
 */
export async function probePhoto(photoPath: string): Promise<PhotoProbe> {
  const bytes = await readPhoto(photoPath);
  const { rows, columns } = photoGeometry(bytes);
  return { width: columns, height: rows, sha256: createHash('sha256').update(bytes).digest('hex') };
}
