import type { ExifOrientation } from './exif-orientation.js';

/**
 * Decoded pixels ready for native (uncompressed) Pixel Data: row by row, samples interleaved
 * (Planar Configuration 0, PS3.3 C.7.6.3.1.3), 16-bit samples little endian.
 * One sample is MONOCHROME2, three are RGB (PS3.3 C.7.6.3.1.2).
 */
export interface Raster {
  rows: number;
  columns: number;
  samplesPerPixel: 1 | 3;
  bitsAllocated: 8 | 16;
  pixels: Buffer;
}

/**
 * Decoding is refused past this many pixels (a 100 MP photo is 300 MB as raw RGB). JPEGs that are
 * wrapped as they are have no such limit: they are never decoded.
 */
export const MAX_DECODED_PIXELS = 100_000_000;

/**
 * The raster as a viewer honouring the EXIF orientation would show it; for orientations 5-8 rows
 * and columns swap. Stored pixel (x, y) of a W×H image goes to output pixel index
 * base + x·dx + y·dy, a linear map per orientation, so the loop does no per-pixel allocation.
 */
export function applyOrientation(raster: Raster, orientation: ExifOrientation): Raster {
  if (orientation === 1) return raster;
  const { rows: h, columns: w } = raster;
  const maps: Record<Exclude<ExifOrientation, 1>, [base: number, dx: number, dy: number]> = {
    2: [w - 1, -1, w], // mirrored left-right
    3: [(h - 1) * w + w - 1, -1, -w], // turned 180°
    4: [(h - 1) * w, 1, -w], // mirrored top-bottom
    5: [0, h, 1], // transposed
    6: [h - 1, h, -1], // turned 90° clockwise
    7: [(w - 1) * h + h - 1, -h, -1], // transversed
    8: [(w - 1) * h, -h, 1], // turned 90° counter-clockwise
  };
  const [base, dx, dy] = maps[orientation];
  const pixelBytes = raster.samplesPerPixel * (raster.bitsAllocated / 8);
  const source = raster.pixels;
  const out = Buffer.allocUnsafe(source.length);
  let from = 0;
  for (let y = 0; y < h; y++) {
    let to = (base + y * dy) * pixelBytes;
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < pixelBytes; k++) out[to + k] = source[from + k]!;
      from += pixelBytes;
      to += dx * pixelBytes;
    }
  }
  const swapped = orientation >= 5;
  return { ...raster, rows: swapped ? w : h, columns: swapped ? h : w, pixels: out };
}
