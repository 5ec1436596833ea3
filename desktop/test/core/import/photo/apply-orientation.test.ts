import { describe, expect, it } from 'vitest';
import type { ExifOrientation } from '../../../../src/core/import/photo/exif-orientation.js';
import { applyOrientation, type Raster } from '../../../../src/core/import/photo/raster.js';

// A 3×2 image as stored:   1 2 3
//                          4 5 6
const stored: Raster = { rows: 2, columns: 3, samplesPerPixel: 1, bitsAllocated: 8, pixels: Buffer.from([1, 2, 3, 4, 5, 6]) };

describe('applyOrientation (EXIF / TIFF Orientation)', () => {
  it.each([
    [1, 2, 3, [1, 2, 3, 4, 5, 6]],
    [2, 2, 3, [3, 2, 1, 6, 5, 4]], // mirrored left-right
    [3, 2, 3, [6, 5, 4, 3, 2, 1]], // turned 180°
    [4, 2, 3, [4, 5, 6, 1, 2, 3]], // mirrored top-bottom
    [5, 3, 2, [1, 4, 2, 5, 3, 6]], // transposed
    [6, 3, 2, [4, 1, 5, 2, 6, 3]], // turned 90° clockwise
    [7, 3, 2, [6, 3, 5, 2, 4, 1]], // transversed
    [8, 3, 2, [3, 6, 2, 5, 1, 4]], // turned 90° counter-clockwise
  ] as const)('orientation %i gives a %i×%i image', (orientation, rows, columns, pixels) => {
    const shown = applyOrientation(stored, orientation as ExifOrientation);
    expect({ rows: shown.rows, columns: shown.columns, pixels: [...shown.pixels] }).toEqual({ rows, columns, pixels });
  });

  it('moves whole pixels: three 8-bit samples or one 16-bit sample stay together', () => {
    const rgb: Raster = { rows: 1, columns: 2, samplesPerPixel: 3, bitsAllocated: 8, pixels: Buffer.from([1, 2, 3, 4, 5, 6]) };
    expect([...applyOrientation(rgb, 2).pixels]).toEqual([4, 5, 6, 1, 2, 3]);
    const wide: Raster = { rows: 1, columns: 2, samplesPerPixel: 1, bitsAllocated: 16, pixels: Buffer.from([0x01, 0x02, 0x03, 0x04]) };
    const turned = applyOrientation(wide, 6);
    expect({ rows: turned.rows, columns: turned.columns, pixels: [...turned.pixels] }).toEqual({ rows: 2, columns: 1, pixels: [0x01, 0x02, 0x03, 0x04] });
  });
});
