// The DICOMDIR reader on its own, for what real media from dcmmkdir (dicomdir-source.test.ts) cannot
// show cheaply: a directory of 200 000 records read in bounded ranges, and a DICOM file whose
// Directory Record Sequence is absent or empty. The bytes are built with the package's element
// writer, which the reader does not use.
import { describe, expect, it } from 'vitest';
import { EXPLICIT_VR_LITTLE_ENDIAN, TAG, UNDEFINED_LENGTH_VALUE, encodeElement, encodeElementHeader, encodeFileMeta, encodeItemHeader, paddedText } from '@relaypacs/dicom';
import { DicomdirFormatError, readDirectoryRecords } from '../../../../src/core/import/dicomdir/dicomdir-reader.js';

const MEDIA_STORAGE_DIRECTORY = '1.2.840.10008.1.3.10';
const MiB = 1024 * 1024;

function dicomdir(dataSet: Buffer[]): Buffer {
  const meta = encodeFileMeta({
    sopClassUid: MEDIA_STORAGE_DIRECTORY, sopInstanceUid: '1.2.826.0.1.3680043.10.1078.8', transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN,
    implementationClassUid: '1.2.3', implementationVersionName: 'TEST',
  });
  return Buffer.concat([meta, encodeElement(0x00041130, 'CS', paddedText('TEST', 'CS')), ...dataSet]);
}

/** One directory record as an item of undefined length (PS3.3 F.3.2.2, PS3.5 §7.5.2). */
function record(type: string, fileId?: string, inUse = 0xffff): Buffer {
  const flag = Buffer.alloc(2);
  flag.writeUInt16LE(inUse);
  return Buffer.concat([
    encodeItemHeader(TAG.Item, UNDEFINED_LENGTH_VALUE),
    encodeElement(TAG.RecordInUseFlag, 'US', flag),
    encodeElement(TAG.DirectoryRecordType, 'CS', paddedText(type, 'CS')),
    ...(fileId ? [encodeElement(TAG.ReferencedFileID, 'CS', paddedText(fileId, 'CS'))] : []),
    encodeItemHeader(TAG.ItemDelimitationItem, 0),
  ]);
}

function recordSequence(records: Buffer[]): Buffer[] {
  return [encodeElementHeader(TAG.DirectoryRecordSequence, 'SQ', UNDEFINED_LENGTH_VALUE), ...records, encodeItemHeader(TAG.SequenceDelimitationItem, 0)];
}

/** Reads `bytes` as a file would be read, noting every range asked for. */
function recordingReader(bytes: Buffer) {
  const reads: number[] = [];
  return { reads, readBytes: async (start: number, end: number) => (reads.push(end - start), bytes.subarray(start, end)) };
}

describe('readDirectoryRecords', () => {
  it('reads a DICOMDIR of 200 000 records in ranges of at most 1 MiB, counting every record', async () => {
    const records: Buffer[] = [record('PATIENT'), record('STUDY'), record('SERIES')];
    for (let i = 1; i <= 200_000; i++) records.push(record('IMAGE', `DICOM\\ST000001\\SE000001\\IM${String(i).padStart(6, '0')}`));
    const bytes = dicomdir(recordSequence(records));
    const { reads, readBytes } = recordingReader(bytes);
    const contents = await readDirectoryRecords(readBytes, bytes.length);
    expect(contents.recordCount).toBe(200_003);
    expect(contents.fileRecords).toHaveLength(200_000);
    expect(contents.fileRecords[199_999]).toEqual({ type: 'IMAGE', fileId: ['DICOM', 'ST000001', 'SE000001', 'IM200000'] });
    expect(Math.max(...reads)).toBeLessThanOrEqual(MiB);
    // Each byte is read once, bar a few header bytes where a read ended inside an element.
    expect(reads.reduce((sum, n) => sum + n, 0)).toBeLessThan(bytes.length * 1.01);
  });

  it('leaves out records not in use and records without a file, and splits the file ID on backslash', async () => {
    const bytes = dicomdir(recordSequence([record('PATIENT'), record('IMAGE', 'A\\B\\GONE', 0x0000), record('IMAGE', 'A\\B\\IM1'), record('SR DOCUMENT', 'A\\SR1')]));
    const contents = await readDirectoryRecords(recordingReader(bytes).readBytes, bytes.length);
    expect(contents).toEqual({ recordCount: 4, fileRecords: [{ type: 'IMAGE', fileId: ['A', 'B', 'IM1'] }, { type: 'SR DOCUMENT', fileId: ['A', 'SR1'] }] });
  });

  it('tells an empty directory from a DICOM file with no Directory Record Sequence', async () => {
    const empty = dicomdir(recordSequence([]));
    expect(await readDirectoryRecords(recordingReader(empty).readBytes, empty.length)).toEqual({ recordCount: 0, fileRecords: [] });
    const none = dicomdir([]);
    const error = await readDirectoryRecords(recordingReader(none).readBytes, none.length).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DicomdirFormatError);
    expect(error).toMatchObject({ code: 'FILE_NOT_DICOM', reason: 'the DICOMDIR has no Directory Record Sequence (0004,1220)' });
  });

  it('says where a DICOMDIR is cut short, as FILE_TRUNCATED', async () => {
    const bytes = dicomdir(recordSequence([record('PATIENT'), record('IMAGE', 'A\\IM1')]));
    const cut = bytes.subarray(0, bytes.length - 20);
    const error = await readDirectoryRecords(recordingReader(cut).readBytes, cut.length).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'FILE_TRUNCATED', reason: expect.stringMatching(/^the DICOMDIR is cut short: the file ends .* at byte \d+/) });
  });
});
