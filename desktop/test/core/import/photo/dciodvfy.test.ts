// The Secondary Capture objects made from photos, checked against PS3.3 (A.8.1 Secondary Capture
// Image IOD) by an independent validator: dicom3tools' dciodvfy (Debian dicom3tools, installed by
// scripts/setup/system-packages.sh). A missing dciodvfy fails these tests; it never skips them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dciodvfy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wrapPhotoAsSecondaryCapture, type SecondaryCaptureAttributes } from '../../../../src/core/import/photo/photo-to-secondary-capture.js';
import { everyKindOfPhoto } from './photo-fixtures.js';

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
    photos = await everyKindOfPhoto(work);
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
