/**
 * EXIF Orientation (TIFF 6.0 tag 274 = 0112H, as EXIF carries it): how the stored pixel rows relate to the
 * scene. Phones store a portrait photo as landscape rows plus orientation 6 and leave the turning
 * to the viewer; DICOM has no such attribute, so the pixels must be turned before wrapping.
 *
 * 1 as stored · 2 mirrored left-right · 3 turned 180° · 4 mirrored top-bottom · 5 transposed ·
 * 6 turned 90° clockwise · 7 transversed · 8 turned 90° counter-clockwise.
 */
export type ExifOrientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

const ORIENTATION_TAG = 0x0112;
const SHORT = 3;

/**
 * The Orientation of IFD0 in an APP1 "Exif" payload (the bytes after "Exif\0\0": a TIFF header and
 * IFDs). EXIF is a hint, not the image: a damaged or odd block gives undefined, never an error.
 */
export function readExifOrientation(tiff: Buffer): ExifOrientation | undefined {
  if (tiff.length < 8) return undefined;
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return undefined;
  const little = order === 'II';
  const u16 = (at: number) => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number) => (little ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  if (u16(2) !== 42) return undefined;
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return undefined;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.length) return undefined;
    if (u16(entry) !== ORIENTATION_TAG) continue;
    if (u16(entry + 2) !== SHORT || u32(entry + 4) !== 1) return undefined;
    const value = u16(entry + 8);
    return value >= 1 && value <= 8 ? (value as ExifOrientation) : undefined;
  }
  return undefined;
}
