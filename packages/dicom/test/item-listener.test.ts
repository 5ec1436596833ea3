// The item listener as the DICOMDIR reader uses it: the listened sequence is found in every
// uncompressed syntax, also in implicit VR with a defined length (which older DICOMDIR writers use,
// and where only the dictionary says the element is a sequence), and the walk says whether the
// sequence was there at all and how many items it held.
import { describe, expect, it } from 'vitest';
import {
  EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, TAG, UNDEFINED_LENGTH_VALUE, encodeElement, encodeElementHeader, encodeFileMeta,
  encodeItemHeader, paddedText, readInstance, type InstanceReadOptions,
} from '../src/index.js';
import { implicit } from './implicit-element.js';

const MEDIA_STORAGE_DIRECTORY = '1.2.840.10008.1.3.10';


function directory(dataSet: Buffer, transferSyntaxUid: string): Buffer {
  const meta = encodeFileMeta({
    sopClassUid: MEDIA_STORAGE_DIRECTORY, sopInstanceUid: '1.2.826.0.1.3680043.10.1078.7', transferSyntaxUid,
    implementationClassUid: '1.2.3', implementationVersionName: 'TEST',
  });
  return Buffer.concat([meta, dataSet]);
}

async function listen(bytes: Buffer, options: Partial<InstanceReadOptions> = {}) {
  const seen: string[] = [];
  const result = await readInstance(async (start, end) => bytes.subarray(start, end), bytes.length, {
    bareDataSet: 'refuse',
    kind: 'directory',
    items: {
      sequence: TAG.DirectoryRecordSequence,
      keep: new Set([TAG.DirectoryRecordType, TAG.ReferencedFileID]),
      onItem: (values) => seen.push([...values.values()].map((v) => v.toString('latin1').trim()).join(':')),
    },
    ...options,
  });
  return { result, seen };
}

describe('item listener', () => {
  it('walks an implicit VR sequence of defined length when it is the listened one, and only then', async () => {
    // A nested sequence of defined length inside a record stays opaque: its items are not the records'.
    const nested = implicit(0x00880200, implicit(TAG.Item, implicit(TAG.DirectoryRecordType, paddedText('NESTED', 'CS'))));
    const record = (type: string, file?: string, extra: Buffer[] = []) => implicit(TAG.Item, Buffer.concat([
      implicit(TAG.DirectoryRecordType, paddedText(type, 'CS')),
      ...(file ? [implicit(TAG.ReferencedFileID, paddedText(file, 'CS'))] : []),
      ...extra,
    ]));
    const records = Buffer.concat([record('PATIENT'), record('IMAGE', 'DIR\\IM1', [nested]), record('IMAGE', 'DIR\\IM2')]);
    const bytes = directory(Buffer.concat([implicit(0x00041130, paddedText('SET', 'CS')), implicit(TAG.DirectoryRecordSequence, records)]), IMPLICIT_VR_LITTLE_ENDIAN);
    const { result, seen } = await listen(bytes);
    expect(result).toMatchObject({ ok: true, facts: { itemCount: 3 } });
    expect(seen).toEqual(['PATIENT', 'IMAGE:DIR\\IM1', 'IMAGE:DIR\\IM2']);
  });

  it('counts the items of an empty sequence as 0, and leaves the count out when there is no such sequence', async () => {
    const empty = directory(encodeElementHeader(TAG.DirectoryRecordSequence, 'SQ', 0), EXPLICIT_VR_LITTLE_ENDIAN);
    const emptyUndefined = directory(Buffer.concat([
      encodeElementHeader(TAG.DirectoryRecordSequence, 'SQ', UNDEFINED_LENGTH_VALUE), encodeItemHeader(TAG.SequenceDelimitationItem, 0),
    ]), EXPLICIT_VR_LITTLE_ENDIAN);
    const none = directory(encodeElement(0x00041130, 'CS', paddedText('SET', 'CS')), EXPLICIT_VR_LITTLE_ENDIAN);
    expect((await listen(empty)).result).toMatchObject({ ok: true, facts: { itemCount: 0 } });
    expect((await listen(emptyUndefined)).result).toMatchObject({ ok: true, facts: { itemCount: 0 } });
    const without = await listen(none);
    expect(without.result.ok && without.result.facts.itemCount).toBeUndefined();
  });

  it('still skips an implicit VR sequence of defined length as an opaque value when no listener names it', async () => {
    // The bytes inside are not items: walked as a sequence they would be refused.
    const opaque = implicit(TAG.DirectoryRecordSequence, Buffer.from('not items at all'));
    const bytes = directory(opaque, IMPLICIT_VR_LITTLE_ENDIAN);
    const result = await readInstance(async (start, end) => bytes.subarray(start, end), bytes.length, { bareDataSet: 'refuse', kind: 'directory' });
    expect(result).toMatchObject({ ok: true });
    expect(result.ok && result.facts.itemCount).toBeUndefined();
  });
});
