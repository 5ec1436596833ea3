// The proof that the Secondary Capture objects are "valid enough": a real Orthanc (with its DICOMweb
// plugin) accepts every kind through STOW-RS and renders each one.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrthancServer } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wrapPhotoAsSecondaryCapture, type SecondaryCaptureAttributes } from '../../../../src/core/import/photo/photo-to-secondary-capture.js';
import { everyKindOfPhoto } from './photo-fixtures.js';

const ATTRIBUTES: SecondaryCaptureAttributes = {
  patientName: 'ORTHANC^PHOTO',
  patientId: 'ORTHANC-PHOTO-1',
  patientSex: 'M',
  patientBirthDate: '19811224',
  studyInstanceUid: '2.25.305961512633126335290474151520447219071',
  studyDate: '20260301',
  accessionNumber: 'ACC-PHOTO',
};

describe('Secondary Capture photos in a real Orthanc', () => {
  let work: string;
  let orthanc: OrthancServer;
  const wrapped: { name: string; path: string; sopInstanceUid: string }[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'relaypacs-photo-orthanc-'));
    const photos = await everyKindOfPhoto(work);
    let instanceNumber = 0;
    for (const [name, bytes] of photos) {
      const photoPath = join(work, name);
      await writeFile(photoPath, bytes);
      const path = `${photoPath}.dcm`;
      const result = await wrapPhotoAsSecondaryCapture(photoPath, { ...ATTRIBUTES, instanceNumber: ++instanceNumber, seriesInstanceUid: '2.25.85463790134567281160367335627735880553' }, path);
      wrapped.push({ name, path, sopInstanceUid: result.sopInstanceUid });
    }
    orthanc = await OrthancServer.start();
  });
  afterAll(async () => {
    await orthanc?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('accepts every kind through STOW-RS, with no failed instance', async () => {
    const result = await orthanc.stowRs(wrapped.map((file) => file.path));
    expect(result.status).toBe(200);
    const body = result.body as Record<string, { Value?: unknown[] }>;
    expect(body['00081198']?.Value ?? []).toEqual([]); // FailedSOPSequence: absent or empty
    expect(body['00081199']?.Value).toHaveLength(wrapped.length); // ReferencedSOPSequence
    expect(await orthanc.countStudies()).toBe(1);
  });

  it('files each photo under the patient and study given', async () => {
    for (const file of wrapped) {
      const id = await orthanc.findInstance(file.sopInstanceUid);
      expect(id, file.name).toBeDefined();
      const tags = await orthanc.instanceTags(id!);
      expect(tags, file.name).toMatchObject({
        PatientName: 'ORTHANC^PHOTO',
        PatientID: 'ORTHANC-PHOTO-1',
        StudyInstanceUID: ATTRIBUTES.studyInstanceUid,
        AccessionNumber: 'ACC-PHOTO',
        SOPClassUID: '1.2.840.10008.5.1.4.1.1.7',
        Modality: 'XC',
      });
    }
  });

  it('renders each photo (GET /instances/{id}/preview)', async () => {
    for (const file of wrapped) {
      const id = await orthanc.findInstance(file.sopInstanceUid);
      const response = await orthanc.request(`/instances/${id}/preview`);
      expect(response.status, `${file.name}: ${response.status}`).toBe(200);
      expect(response.headers.get('content-type'), file.name).toBe('image/png');
      expect((await response.arrayBuffer()).byteLength, file.name).toBeGreaterThan(60);
    }
  });
});
