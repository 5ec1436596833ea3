// The Secondary Capture objects made from photos, checked against PS3.3 (A.8.1 Secondary Capture
// Image IOD) by an independent validator: dicom3tools' dciodvfy (Debian dicom3tools, installed by
// scripts/setup/system-packages.sh). A missing dciodvfy fails these tests; it never skips them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dciodvfy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wrapPhotoAsSecondaryCapture, type SecondaryCaptureAttributes } from '../../../../src/core/import/photo/photo-to-secondary-capture.js';
import { dcmtkJpeg, jpegJs, leftRedRightBlue, palettePng, pngjsPng, withExifOrientation } from './photo-fixtures.js';

/** Only what the user must give: every optional Type 2 attribute is then present and empty. */
const FEWEST: SecondaryCaptureAttributes = {
  patientName: 'PHOTO^PATIENT',
  patientId: 'PHOTO-0001',
  studyInstanceUid: '2.25.118263504271949062233312906227383519342',
};

/** Everything the user can give, with names outside ASCII (ISO_IR 192). */
const ALL: SecondaryCaptureAttributes = {
  patientName: 'MÜLLER^JÖRG',
  patientId: 'PHOTO-0002',
  patientBirthDate: '19700312',
  patientSex: 'F',
  studyInstanceUid: '2.25.305961512633126335290474151520447219071',
  studyDate: '20260410',
  studyTime: '101500',
  studyDescription: 'WOUND CARE',
  accessionNumber: 'ACC0001',
  referringPhysicianName: 'ÅSTRÖM^A',
  seriesInstanceUid: '2.25.85463790134567281160367335627735880553',
  seriesNumber: 901,
  seriesDescription: 'Wound photos',
  instanceNumber: 7,
  modality: 'DOC',
  conversionType: 'SD',
};

describe('Secondary Capture photos under dciodvfy', () => {
  let work: string;
  let photos: [string, Buffer][];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'relaypacs-photo-dciodvfy-'));
    const paint = leftRedRightBlue(40);
    // Every way a photo is stored: JPEG wrapped as it is (YCbCr 4:4:4 and 4:2:2, RGB, grey,
    // extended), JPEG decoded to native RGB (progressive, EXIF-turned), and PNGs decoded to native
    // RGB, MONOCHROME2 8-bit and 16-bit.
    photos = [
      ['jpeg-baseline-444', jpegJs(40, 24, paint)],
      ['jpeg-baseline-422', await dcmtkJpeg(work, 'b422', 40, 24, paint, ['+eb', '+s2'])],
      ['jpeg-rgb', await dcmtkJpeg(work, 'rgb', 40, 24, paint, ['+eb', '+cr'])],
      ['jpeg-grey', await dcmtkJpeg(work, 'grey', 40, 24, paint, ['+eb', '+cm'])],
      ['jpeg-extended', await dcmtkJpeg(work, 'ext', 40, 24, paint, ['+ee'])],
      ['jpeg-progressive', await dcmtkJpeg(work, 'prog', 40, 24, paint, ['+ep'])],
      ['jpeg-exif-rotated', withExifOrientation(jpegJs(40, 24, paint), 6)],
      ['png-rgb', pngjsPng({ width: 9, height: 5, colorType: 2, rgba: (x, y) => [x * 25, y * 50, 128, 255] })],
      ['png-grey-8', pngjsPng({ width: 9, height: 5, colorType: 0, rgba: (x) => [x * 25, x * 25, x * 25, 255] })],
      ['png-grey-16', pngjsPng({ width: 9, height: 5, colorType: 0, bitDepth: 16, rgba: (x) => [x * 7000, x * 7000, x * 7000, 65_535] })],
      ['png-palette', palettePng(3, 3, [[255, 0, 0], [0, 255, 0], [0, 0, 255]], (x, y) => (x + y) % 3)],
      ['png-rgba', pngjsPng({ width: 4, height: 4, colorType: 6, rgba: (x) => [0, 0, 255, x * 80] })],
    ];
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  for (const [attributesName, attributes] of [['the fewest attributes', FEWEST], ['every attribute', ALL]] as const) {
    it(`makes Secondary Capture Images with no dciodvfy errors from every kind of photo, with ${attributesName}`, async () => {
      const found: Record<string, unknown> = {};
      for (const [name, bytes] of photos) {
        const photoPath = join(work, `${name}-${attributes.patientId}`);
        await writeFile(photoPath, bytes);
        await wrapPhotoAsSecondaryCapture(photoPath, attributes, `${photoPath}.dcm`);
        const report = await dciodvfy(`${photoPath}.dcm`);
        found[name] = { iod: report.iod, errors: report.errors, exitCode: report.exitCode };
      }
      expect(found).toEqual(Object.fromEntries(photos.map(([name]) => [name, { iod: 'SCImage', errors: [], exitCode: 0 }])));
    });
  }
});
