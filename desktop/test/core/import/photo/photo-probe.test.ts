// probePhoto lists a photo without converting it: its size must be the one the conversion gives,
// and its refusals the conversion's, so the review never offers a photo that cannot be attached
// for a reason visible without decoding.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { photoGeometry, photoImage } from '../../../../src/core/import/photo/photo-image.js';
import { probePhoto } from '../../../../src/core/import/photo/photo-probe.js';
import { PhotoConversionError } from '../../../../src/core/import/photo/photo-errors.js';
import { dcmtkJpeg, jpegJs, leftRedRightBlue, palettePng, pngjsPng, withExifOrientation } from './photo-fixtures.js';

describe('probePhoto', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'relaypacs-photo-probe-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function photo(name: string, bytes: Buffer): Promise<string> {
    const path = join(work, name);
    await writeFile(path, bytes);
    return path;
  }

  it('gives the size the Secondary Capture will have, turned as the camera asked, and the content hash', async () => {
    const jpeg = jpegJs(40, 24, leftRedRightBlue(40));
    expect(await probePhoto(await photo('plain.jpg', jpeg))).toEqual({ width: 40, height: 24, sha256: createHash('sha256').update(jpeg).digest('hex') });
    // Orientation 6: turned a quarter, so 40×24 as stored is 24 across and 40 down.
    expect(await probePhoto(await photo('turned.jpg', withExifOrientation(jpeg, 6)))).toMatchObject({ width: 24, height: 40 });
    expect(await probePhoto(await photo('mirrored.jpg', withExifOrientation(jpeg, 2)))).toMatchObject({ width: 40, height: 24 });
    expect(await probePhoto(await photo('form.png', pngjsPng({ width: 9, height: 5, colorType: 2, rgba: () => [1, 2, 3, 255] })))).toMatchObject({ width: 9, height: 5 });
  });

  it('agrees with the conversion on the size of every kind of photo', async () => {
    const paint = leftRedRightBlue(40);
    const kinds: [string, Buffer][] = [
      ['baseline', jpegJs(40, 24, paint)],
      ['progressive', await dcmtkJpeg(work, 'prog', 40, 24, paint, ['+ep'])],
      ['grey', await dcmtkJpeg(work, 'grey', 40, 24, paint, ['+eb', '+cm'])],
      ['exif-8', withExifOrientation(jpegJs(40, 24, paint), 8)],
      ['png-16-grey', pngjsPng({ width: 7, height: 3, colorType: 0, bitDepth: 16, rgba: () => [9, 9, 9, 65_535] })],
      ['png-palette', palettePng(3, 2, [[255, 0, 0], [0, 0, 255]], (x) => x % 2)],
    ];
    for (const [name, bytes] of kinds) {
      const image = photoImage(bytes);
      expect(photoGeometry(bytes), name).toEqual({ rows: image.rows, columns: image.columns });
    }
  });

  it('refuses what the conversion refuses, with its code and reason', async () => {
    const refusal = async (path: string) => {
      const error = await probePhoto(path).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(PhotoConversionError);
      return { code: (error as PhotoConversionError).code, reason: (error as PhotoConversionError).reason };
    };
    const jpeg = jpegJs(40, 24, leftRedRightBlue(40));
    expect(await refusal(await photo('cut.jpg', jpeg.subarray(0, jpeg.length - 40)))).toEqual({ code: 'FILE_TRUNCATED', reason: expect.stringMatching(/^the JPEG ends/) });
    const png = pngjsPng({ width: 9, height: 5, colorType: 2, rgba: () => [1, 2, 3, 255] });
    expect(await refusal(await photo('cut.png', png.subarray(0, 40)))).toEqual({ code: 'FILE_TRUNCATED', reason: 'the PNG ends before its IEND chunk' });
    expect(await refusal(await photo('notes.jpg', Buffer.from('GIF89a and some more bytes')))).toEqual({ code: 'PHOTO_UNSUPPORTED', reason: 'GIF images are not supported; save the image as PNG' });
    expect(await refusal(await photo('lossless.jpg', await dcmtkJpeg(work, 'lossless', 8, 8, leftRedRightBlue(8), ['+el'])))).toEqual({ code: 'PHOTO_UNSUPPORTED', reason: expect.stringMatching(/lossless coding/) });
    expect(await refusal(join(work, 'missing.png'))).toEqual({ code: 'FILE_UNREADABLE', reason: 'the photo could not be read (it does not exist)' });
  });
});
