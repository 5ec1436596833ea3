import { decode } from 'jpeg-js';
import type { JpegStructure } from './jpeg-structure.js';
import { damaged, decoderComplaint } from './photo-errors.js';
import { MAX_DECODED_PIXELS, type Raster } from './raster.js';

/**
 * Decodes an 8-bit baseline, extended or progressive JPEG with jpeg-js (pure JS) into MONOCHROME2
 * or RGB pixels. jpeg-js applies the colour transform the APP segments call for (YCbCr, Adobe
 * RGB, CMYK/YCCK to RGB), so the result is display-ready. The caller has already checked the
 * process and precision against readJpegStructure's answer.
 */
export function decodeJpeg(bytes: Buffer, structure: JpegStructure): Raster {
  let decoded;
  try {
    decoded = decode(bytes.subarray(0, structure.end), {
      useTArray: true,
      formatAsRGBA: false,
      // A damaged scan is an error, not a grey band: the image is medical evidence.
      tolerantDecoding: false,
      maxResolutionInMP: MAX_DECODED_PIXELS / 1e6,
      maxMemoryUsageInMB: 2048,
    });
  } catch (error) {
    throw damaged(`the JPEG does not decode (${decoderComplaint(error)})`);
  }
  const { width: columns, height: rows, data } = decoded;
  // jpeg-js always returns three samples per pixel; a one-component image has them equal.
  if (structure.components.length === 1) {
    const pixels = Buffer.allocUnsafe(rows * columns);
    for (let i = 0; i < pixels.length; i++) pixels[i] = data[i * 3]!;
    return { rows, columns, samplesPerPixel: 1, bitsAllocated: 8, pixels };
  }
  return { rows, columns, samplesPerPixel: 3, bitsAllocated: 8, pixels: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
}
