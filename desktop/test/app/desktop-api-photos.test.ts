// Photos through the desktop API over the real core: import:paths lists the JPEG and PNG photos
// of a folder beside its DICOM study, import:attach-photos makes them Secondary Capture images of
// that study (or of a new one), and sending delivers them through the real relay to a real Orthanc
// under the study. The tests share one API and run in order.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateStudy, type GeneratedStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportReview, InvokeChannel, InvokeResponse } from '../../src/common/ipc-contract.js';
import { createCore } from '../../src/core/create-core.js';
import { createDesktopApi, type DesktopApi } from '../../src/app/desktop-api.js';
import { jpegJs, leftRedRightBlue, pngjsPng, withExifOrientation } from '../core/import/photo/photo-fixtures.js';
import { ACCOUNTS, startRelayStack, type RelayStack } from './relay-stack.js';

const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

let stack: RelayStack;
let api: DesktopApi;
let dataDir: string;

async function ok<C extends InvokeChannel>(channel: C, request?: unknown): Promise<InvokeResponse<C>> {
  const result = await api.invoke(channel, request);
  if (!result.ok) throw new Error(`${channel} refused: ${JSON.stringify(result.error)}`);
  return result.value;
}

async function refused(channel: InvokeChannel, request?: unknown) {
  const result = await api.invoke(channel, request);
  if (result.ok) throw new Error(`${channel} was accepted: ${JSON.stringify(result.value)}`);
  return result.error;
}

const stateOf = async (studyInstanceUid: string) => (await ok('queue:list')).find((item) => item.studyInstanceUid === studyInstanceUid)?.state;

/** The study's Secondary Capture instances in the catalog. */
function photoInstancesOf(studyInstanceUid: string) {
  return api.core.catalog.study(studyInstanceUid)!.series.flatMap((s) => s.instances).filter((i) => i.sopClassUid === SECONDARY_CAPTURE);
}

async function tagsInOrthanc(sopInstanceUid: string): Promise<Record<string, unknown>> {
  const id = await stack.orthanc.findInstance(sopInstanceUid);
  if (!id) throw new Error(`Orthanc does not hold ${sopInstanceUid}`);
  return stack.orthanc.instanceTags(id);
}

function today(): string {
  const at = new Date();
  return `${at.getFullYear()}-${String(at.getMonth() + 1).padStart(2, '0')}-${String(at.getDate()).padStart(2, '0')}`;
}

beforeAll(async () => {
  stack = await startRelayStack('desktop-api-photos');
  dataDir = join(stack.workDir, 'agent');
  api = await createDesktopApi({ core: await createCore({ dataDir }), chooseImportPaths: async () => [], log: () => {}, senderIdleMs: 200, queueEventIntervalMs: 100 });
  await ok('session:sign-in', { relayUrl: stack.relayUrl, username: ACCOUNTS.radiographer.username, password: ACCOUNTS.radiographer.password });
}, 120_000);

afterAll(async () => {
  await api?.close();
  await stack?.stop();
});

describe('photos attached to a study of the review', () => {
  let study: GeneratedStudy;
  let folder: string;
  let review: ImportReview;
  let photos: { jpeg: string; png: string; cut: string; notPhoto: string };

  it('lists the photos found beside a study, waiting to be attached; a damaged or foreign one is a problem', async () => {
    folder = join(stack.workDir, 'ward-export');
    study = await generateStudy(join(folder, 'dicom'), { instances: 3, rows: 64, columns: 64, modality: 'CT', patient: { name: 'PENHALIGON^MAVIS', id: 'SYN0000811' } });
    photos = { jpeg: join(folder, 'wound.jpg'), png: join(folder, 'request-form.png'), cut: join(folder, 'cut.png'), notPhoto: join(folder, 'screen.jpeg') };
    // A phone photo held sideways: 48×32 as stored, turned a quarter by its EXIF orientation.
    await writeFile(photos.jpeg, withExifOrientation(jpegJs(48, 32, leftRedRightBlue(48)), 6));
    const png = pngjsPng({ width: 30, height: 20, colorType: 2, rgba: (x) => [x * 8, 100, 200, 255] });
    await writeFile(photos.png, png);
    await writeFile(photos.cut, png.subarray(0, 60));
    await writeFile(photos.notPhoto, Buffer.from('GIF89a saved with the wrong name'));

    review = await ok('import:paths', { paths: [folder] });
    expect(review.counts).toEqual({ found: 5, imported: 3, duplicates: 0, conflicts: 0, skipped: 2 });
    expect(review.studies.map((s) => [s.studyInstanceUid, s.seriesCount, s.instanceCount])).toEqual([[study.studyInstanceUid, 1, 3]]);
    expect(review.photos).toEqual([
      { path: photos.png, displayName: photos.png, width: 30, height: 20 },
      { path: photos.jpeg, displayName: photos.jpeg, width: 32, height: 48 },
    ]);
    expect(review.problems).toEqual(expect.arrayContaining([
      { displayName: photos.cut, code: 'FILE_TRUNCATED', reason: 'the PNG ends before its IEND chunk' },
      { displayName: photos.notPhoto, code: 'PHOTO_UNSUPPORTED', reason: 'GIF images are not supported; save the image as PNG' },
    ]));
    expect(review.problems).toHaveLength(2);
  });

  it('refuses an attachment that is not right, in words, and keeps the photos waiting', async () => {
    const cases: [unknown, string | RegExp][] = [
      [{ photos: [], target: { studyInstanceUid: study.studyInstanceUid } }, 'Choose at least one photo to attach.'],
      [{ photos: ['wound.jpg'], target: { studyInstanceUid: study.studyInstanceUid } }, 'Photo 1 is not the full path of a photo.'],
      [{ photos: [photos.jpeg] }, 'Say which study the photos go to: one of the review, or a new study.'],
      [{ photos: [photos.jpeg], target: { studyInstanceUid: study.studyInstanceUid, newStudy: {} } }, /^Say which study the photos go to/],
      [{ photos: [photos.jpeg], target: { studyInstanceUid: '1.2.x' } }, 'The study to attach to needs a valid Study Instance UID.'],
      [{ photos: [photos.jpeg], target: { newStudy: { patientName: ' ', studyDescription: 'Wound' } } }, 'The patient name must be filled in; the patient ID must be filled in.'],
      [{ photos: [photos.jpeg], target: { newStudy: { patientName: 'Doe, Jane', patientId: 'P1', birthDate: '1980-02-31' } } }, 'The birth date must be a date (YYYY-MM-DD).'],
      [{ photos: [photos.jpeg], target: { newStudy: { patientName: 'Doe, Jane', patientId: 'P1', birthDate: '2999-01-01' } } }, 'The birth date must not be in the future.'],
      [{ photos: [photos.jpeg], target: { newStudy: { patientName: 'Doe, Jane', patientId: 'P1', sex: 'X' } } }, 'The sex must be one of M, F, O.'],
      [{ photos: [photos.jpeg], target: { newStudy: { patientName: 'Doe, Jane', patientId: 'x'.repeat(65) } } }, 'The patient ID must be at most 64 characters.'],
      [{ photos: [photos.jpeg], target: { newStudy: { patientName: 'Doe, Jane', patientId: 'P1', ward: 3 } } }, 'The new study has unknown fields "ward".'],
      // Caught by the DICOM value checks of the Secondary Capture writer.
      [{ photos: [photos.jpeg], target: { newStudy: { patientName: 'Doe\\Jane', patientId: 'P1' } } }, "Patient's name contains a backslash or a control character; correct it and attach the photos again."],
      // Paths the review did not list are refused, not read.
      [{ photos: ['/etc/hostname'], target: { studyInstanceUid: study.studyInstanceUid } }, /^A photo to attach is not waiting to be attached any more/],
      [{ photos: [photos.cut], target: { studyInstanceUid: study.studyInstanceUid } }, /^A photo to attach is not waiting to be attached any more/],
      [{ photos: [photos.jpeg], target: { studyInstanceUid: '1.2.3.4.5' } }, 'The study to attach the photos to is no longer in the catalog. Import it again, then attach the photos.'],
    ];
    for (const [request, message] of cases) {
      const error = await refused('import:attach-photos', request);
      expect(error.code, JSON.stringify(request)).toBe('INVALID_REQUEST');
      if (typeof message === 'string') expect(error.message, JSON.stringify(request)).toBe(message);
      else expect(error.message, JSON.stringify(request)).toMatch(message);
    }
    expect(photoInstancesOf(study.studyInstanceUid)).toEqual([]);
  });

  it('attaches both photos to the study as a new Photos series, kept in the data folder', async () => {
    const attached = await ok('import:attach-photos', { photos: [photos.jpeg, photos.png], target: { studyInstanceUid: study.studyInstanceUid } });
    expect(attached.counts).toEqual({ found: 2, imported: 2, duplicates: 0, conflicts: 0, skipped: 0 });
    expect(attached.photos).toEqual([]);
    expect(attached.problems).toEqual([]);
    expect(attached.studies).toHaveLength(1);
    expect(attached.studies[0]).toMatchObject({
      studyInstanceUid: study.studyInstanceUid, patientName: 'PENHALIGON, MAVIS', patientId: 'SYN0000811', seriesCount: 2, instanceCount: 5, modalities: ['CT', 'XC'],
    });
    const instances = photoInstancesOf(study.studyInstanceUid);
    expect(instances.map((i) => i.displayName)).toEqual([photos.jpeg, photos.png]);
    expect(instances.every((i) => i.path.startsWith(join(dataDir, 'photos')))).toBe(true);
    expect(await readdir(join(dataDir, 'photos'))).toHaveLength(2);
    // Attached once: asking again is refused, not a second copy.
    expect((await refused('import:attach-photos', { photos: [photos.jpeg], target: { studyInstanceUid: study.studyInstanceUid } })).message).toMatch(/not waiting to be attached any more/);
  });

  it('sends them with the study: Orthanc holds the study and the photos under its Study Instance UID and patient', async () => {
    await ok('import:send', { studies: [{ studyInstanceUid: study.studyInstanceUid, serviceLevel: 'ROUTINE' }] });
    await expect.poll(() => stateOf(study.studyInstanceUid), { timeout: 30_000, interval: 100 }).toMatch(/delivered|confirmed/);
    expect(await stack.heldInOrthanc(study.instances.map((i) => i.sopInstanceUid))).toBe(3);
    const photoInstances = photoInstancesOf(study.studyInstanceUid);
    expect(await stack.heldInOrthanc(photoInstances.map((i) => i.sopInstanceUid))).toBe(2);
    const tags = await Promise.all(photoInstances.map((i) => tagsInOrthanc(i.sopInstanceUid)));
    for (const tag of tags) {
      expect(tag).toMatchObject({
        StudyInstanceUID: study.studyInstanceUid, PatientID: 'SYN0000811', PatientName: 'PENHALIGON^MAVIS', SOPClassUID: SECONDARY_CAPTURE, Modality: 'XC', SeriesDescription: 'Photos', SeriesNumber: '2',
      });
    }
    expect(tags.map((t) => [t.InstanceNumber, t.Columns, t.Rows])).toEqual([['1', '32', '48'], ['2', '30', '20']]);
    expect(new Set(tags.map((t) => t.SeriesInstanceUID)).size).toBe(1);
  }, 60_000);

  it('recognises photos attached before when the folder is imported again: not listed, counted as already imported', async () => {
    const again = await ok('import:paths', { paths: [folder] });
    expect(again.photos).toEqual([]);
    expect(again.counts).toEqual({ found: 7, imported: 0, duplicates: 5, conflicts: 0, skipped: 2 });
    expect(again.studies.map((s) => [s.studyInstanceUid, s.instanceCount])).toEqual([[study.studyInstanceUid, 5]]);
  });
});

describe('photos attached to a new study', () => {
  it('makes a study of the details entered and delivers it', async () => {
    const folder = join(stack.workDir, 'scanned-forms');
    const form = join(folder, 'referral.jpg');
    await mkdir(folder, { recursive: true });
    await writeFile(form, jpegJs(40, 56, () => [240, 240, 240]));
    const review = await ok('import:paths', { paths: [folder] });
    expect(review.studies).toEqual([]);
    expect(review.photos).toEqual([{ path: form, displayName: form, width: 40, height: 56 }]);

    const attached = await ok('import:attach-photos', {
      photos: [form],
      target: { newStudy: { patientName: ' Featherstonehaugh, Ivy ', patientId: 'SYN0000812', birthDate: '1980-04-01', sex: 'F', studyDescription: 'Referral form' } },
    });
    expect(attached.studies).toEqual([{
      studyInstanceUid: expect.stringMatching(/^2\.25\.\d+$/), patientName: 'Featherstonehaugh, Ivy', patientId: 'SYN0000812', studyDate: today(), description: 'Referral form',
      modalities: ['XC'], seriesCount: 1, instanceCount: 1, totalBytes: expect.any(Number), conflicts: 0, fileHeaderAdded: 0,
    }]);
    const uid = attached.studies[0]!.studyInstanceUid;
    await ok('import:send', { studies: [{ studyInstanceUid: uid, serviceLevel: 'STAT' }] });
    await expect.poll(() => stateOf(uid), { timeout: 30_000, interval: 100 }).toMatch(/delivered|confirmed/);
    const [instance] = photoInstancesOf(uid);
    expect(await tagsInOrthanc(instance!.sopInstanceUid)).toMatchObject({
      StudyInstanceUID: uid, PatientName: 'Featherstonehaugh^Ivy', PatientID: 'SYN0000812', PatientBirthDate: '19800401', PatientSex: 'F',
      StudyDescription: 'Referral form', Modality: 'XC', SeriesNumber: '1', InstanceNumber: '1',
    });
  }, 60_000);
});
