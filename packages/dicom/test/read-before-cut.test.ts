// A file cut short (TRUNCATED) says what its data set had named before the cut: a folder watcher
// holds the study of a file still being copied back until the file is whole. Only then: any other
// refusal names nothing.
import { describe, expect, it } from 'vitest';
import { EXPLICIT_VR_LITTLE_ENDIAN, TAG, encodeElement, encodeElementHeader, encodeFileMeta, paddedText, readInstance } from '../src/index.js';

const SOP_CLASS = '1.2.840.10008.5.1.4.1.1.7';
const SOP_INSTANCE = '1.2.826.0.1.3680043.10.1078.11';
const STUDY = '1.2.826.0.1.3680043.10.1078.12';
const SERIES = '1.2.826.0.1.3680043.10.1078.13';

/** A Part 10 secondary capture whose native Pixel Data declares 4096 bytes. */
function instance(): Buffer {
  const meta = encodeFileMeta({ sopClassUid: SOP_CLASS, sopInstanceUid: SOP_INSTANCE, transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN, implementationClassUid: '1.2.3', implementationVersionName: 'TEST' });
  const dataSet = Buffer.concat([
    encodeElement(TAG.SOPClassUID, 'UI', paddedText(SOP_CLASS, 'UI')),
    encodeElement(TAG.SOPInstanceUID, 'UI', paddedText(SOP_INSTANCE, 'UI')),
    encodeElement(TAG.PatientID, 'LO', paddedText('ID1', 'LO')),
    encodeElement(TAG.StudyInstanceUID, 'UI', paddedText(STUDY, 'UI')),
    encodeElement(TAG.SeriesInstanceUID, 'UI', paddedText(SERIES, 'UI')),
    encodeElementHeader(TAG.PixelData, 'OW', 4096),
    Buffer.alloc(4096),
  ]);
  return Buffer.concat([meta, dataSet]);
}

const read = (bytes: Buffer) => readInstance(async (start, end) => bytes.subarray(start, end), bytes.length, { bareDataSet: 'refuse', keep: new Set([TAG.PatientID]) });

describe('readBeforeCut', () => {
  it('holds the UIDs and kept values read before a cut inside Pixel Data', async () => {
    const whole = instance();
    const result = await read(whole.subarray(0, whole.length - 100));
    expect(result).toMatchObject({ ok: false, code: 'TRUNCATED', readBeforeCut: { sopInstanceUid: SOP_INSTANCE, studyInstanceUid: STUDY, seriesInstanceUid: SERIES } });
    if (result.ok) return;
    expect(result.readBeforeCut?.values.get(TAG.PatientID)?.toString('latin1')).toBe('ID1 ');
  });

  it('holds only what came before a cut inside the header', async () => {
    const whole = instance();
    const study = whole.indexOf(Buffer.from(STUDY, 'latin1'));
    const result = await read(whole.subarray(0, study + 4));
    expect(result).toMatchObject({ ok: false, code: 'TRUNCATED', readBeforeCut: { sopInstanceUid: SOP_INSTANCE } });
    if (!result.ok) expect(result.readBeforeCut?.studyInstanceUid).toBeUndefined();
  });

  it('is absent from every other refusal', async () => {
    const whole = instance();
    // The Series Instance UID renumbered to (0020,000F): a data set that is whole, but unstorable.
    const series = whole.indexOf(Buffer.from([0x20, 0x00, 0x0e, 0x00]), 132);
    const without = Buffer.from(whole);
    without.writeUInt16LE(0x000f, series + 2);
    const result = await read(without);
    expect(result).toMatchObject({ ok: false, code: 'MISSING_IDENTITY' });
    expect(result).not.toHaveProperty('readBeforeCut');
  });
});
