import { PNG } from 'pngjs';
import { damaged, decoderComplaint, truncated, unsupported } from './photo-errors.js';
import { MAX_DECODED_PIXELS, type Raster } from './raster.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const IEND = Buffer.from('IEND', 'latin1');

export function isPng(bytes: Buffer): boolean {
  return bytes.length >= 8 && bytes.subarray(0, 8).equals(SIGNATURE);
}

/**
 * The PNG's size and pixel format from its IHDR chunk, which must come first (ISO/IEC 15948
 * §11.2.2), read before anything is allocated; refuses sizes DICOM or the decoder cannot take, and
 * a file without its IEND chunk (cut short).
 */
export function readPngHeader(bytes: Buffer): { columns: number; rows: number; depth: number; colorType: number } {
  if (bytes.length < 33 || bytes.toString('latin1', 12, 16) !== 'IHDR') throw bytes.length < 33 ? truncated('the PNG ends inside its header') : damaged('the PNG has no IHDR header chunk');
  const columns = bytes.readUInt32BE(16);
  const rows = bytes.readUInt32BE(20);
  if (columns === 0 || rows === 0) throw damaged('the PNG header gives an empty image');
  if (columns > 0xffff || rows > 0xffff) throw unsupported('the PNG is wider or taller than the 65535 pixels DICOM allows');
  if (columns * rows > MAX_DECODED_PIXELS) throw unsupported(`the PNG has ${Math.round((columns * rows) / 1e6)} megapixels, more than the ${MAX_DECODED_PIXELS / 1e6} that can be converted`);
  if (bytes.lastIndexOf(IEND) < 0) throw truncated('the PNG ends before its IEND chunk');
  return { columns, rows, depth: bytes[24]!, colorType: bytes[25]! };
}

/**
 * Decodes a PNG (ISO/IEC 15948) with pngjs, a pure-JS decoder, into pixels DICOM can carry
 * natively (PS3.5 §8.1.1, no PNG transfer syntax exists):
 * - grey (colour types 0 and 4): MONOCHROME2, 8-bit, or 16-bit kept whole for 16-bit greys;
 * - colour and palette (2, 3, 6): RGB, 8-bit (16-bit colour is scaled to 8 by pngjs);
 * - transparency (alpha channel or tRNS) is composited over white, as the image shows on paper:
 *   DICOM images have no alpha.
 */
export function decodePng(bytes: Buffer): Raster {
  const { columns, rows, depth, colorType } = readPngHeader(bytes);
  const grey = colorType === 0 || colorType === 4;
  const keep16 = grey && depth === 16;
  let png;
  try {
    png = PNG.sync.read(bytes, { skipRescale: keep16 });
  } catch (error) {
    throw damaged(`the PNG does not decode (${decoderComplaint(error)})`);
  }
  const rgba = png.data as Buffer | Uint16Array;
  const pixelCount = columns * rows;
  if (keep16) {
    // pngjs gives 16-bit RGBA words; a grey sample is in R.
    const words = rgba as unknown as Uint16Array;
    const pixels = Buffer.allocUnsafe(pixelCount * 2);
    for (let i = 0; i < pixelCount; i++) pixels.writeUInt16LE(overWhite(words[i * 4]!, words[i * 4 + 3]!, 0xffff), i * 2);
    return { rows, columns, samplesPerPixel: 1, bitsAllocated: 16, pixels };
  }
  const data = rgba as Buffer;
  if (grey) {
    const pixels = Buffer.allocUnsafe(pixelCount);
    for (let i = 0; i < pixelCount; i++) pixels[i] = overWhite(data[i * 4]!, data[i * 4 + 3]!, 0xff);
    return { rows, columns, samplesPerPixel: 1, bitsAllocated: 8, pixels };
  }
  const pixels = Buffer.allocUnsafe(pixelCount * 3);
  for (let i = 0; i < pixelCount; i++) {
    const alpha = data[i * 4 + 3]!;
    pixels[i * 3] = overWhite(data[i * 4]!, alpha, 0xff);
    pixels[i * 3 + 1] = overWhite(data[i * 4 + 1]!, alpha, 0xff);
    pixels[i * 3 + 2] = overWhite(data[i * 4 + 2]!, alpha, 0xff);
  }
  return { rows, columns, samplesPerPixel: 3, bitsAllocated: 8, pixels };
}

/** A sample composited over white: value·α + max·(1 − α), α in [0, max]. */
function overWhite(value: number, alpha: number, max: number): number {
  return alpha === max ? value : Math.round((value * alpha + max * (max - alpha)) / max);
}
