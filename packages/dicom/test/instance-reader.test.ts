// The reading core's own contract, on bytes built here with its element writer (and by hand for
// implicit VR): what the desktop indexer, the DICOMDIR reader, the folder watcher and the relay all
// rely on. The relay's validator adds manifest checks on top (server/test/dicom).
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, TAG, encodeElement, encodeElementHeader,
  encodeFileMeta, encodeItemHeader, paddedText, readInstance, textDecoderFor, type InstanceReadOptions, type ValueRepresentation,
} from '../src/index.js';
import { implicit } from './implicit-element.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const IDS = { sopClassUid: CT, sopInstanceUid: '1.2.826.0.1.3680043.10.1078.9.1', studyInstanceUid: '1.2.826.0.1.3680043.10.1078.9', seriesInstanceUid: '1.2.826.0.1.3680043.10.1078.9.2' };
const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';

const el = (tag: number, vr: ValueRepresentation, text: string) => encodeElement(tag, vr, paddedText(text, vr));


function identity(ids = IDS, extra: Buffer[] = []): Buffer {
  return Buffer.concat([
    el(TAG.SOPClassUID, 'UI', ids.sopClassUid), el(TAG.SOPInstanceUID, 'UI', ids.sopInstanceUid),
    ...extra,
    el(TAG.StudyInstanceUID, 'UI', ids.studyInstanceUid), el(TAG.SeriesInstanceUID, 'UI', ids.seriesInstanceUid),
  ]);
}

function part10(dataSet: Buffer, transferSyntaxUid = EXPLICIT_VR_LITTLE_ENDIAN, ids = IDS): Buffer {
  return Buffer.concat([encodeFileMeta({ ...ids, transferSyntaxUid, implementationClassUid: '1.2.3', implementationVersionName: 'TEST' }), dataSet]);
}

const read = (bytes: Buffer, options: Partial<InstanceReadOptions> = {}) =>
  readInstance(async (start, end) => bytes.subarray(start, end), bytes.length, { bareDataSet: 'read', ...options });

function encapsulated(fragments: Buffer[], delimited = true): Buffer {
  return Buffer.concat([
    encodeElementHeader(TAG.PixelData, 'OB', 0xffffffff), encodeItemHeader(TAG.Item, 0),
    ...fragments.flatMap((f) => [encodeItemHeader(TAG.Item, f.length), f]),
    ...(delimited ? [encodeItemHeader(TAG.SequenceDelimitationItem, 0)] : []),
  ]);
}

describe('readInstance', () => {
  it('reads a Part 10 file: its meta header, the identifying UIDs and the values asked for', async () => {
    const bytes = part10(identity(IDS, [el(TAG.Modality, 'CS', 'CT')]));
    const result = await read(bytes, { keep: new Set([TAG.Modality, TAG.PatientName]) });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.meta?.transferSyntaxUid).toBe(EXPLICIT_VR_LITTLE_ENDIAN);
    expect(result.facts).toMatchObject(IDS);
    expect(result.facts.values.get(TAG.Modality)?.toString('latin1')).toBe('CT');
    // Asked for, absent: not in the map. Not asked for (the UIDs): not in the map either.
    expect([...result.facts.values.keys()]).toEqual([TAG.Modality]);
    expect(result.facts.endedBy).toBe('end-of-data');
  });

  it('reads a bare data set in implicit and explicit VR when allowed, and refuses it when not', async () => {
    const explicit = identity();
    const implicitVr = Buffer.concat([
      implicit(TAG.SOPClassUID, paddedText(CT, 'UI')), implicit(TAG.SOPInstanceUID, paddedText(IDS.sopInstanceUid, 'UI')),
      implicit(TAG.StudyInstanceUID, paddedText(IDS.studyInstanceUid, 'UI')), implicit(TAG.SeriesInstanceUID, paddedText(IDS.seriesInstanceUid, 'UI')),
    ]);
    for (const [bytes, syntax] of [[explicit, EXPLICIT_VR_LITTLE_ENDIAN], [implicitVr, IMPLICIT_VR_LITTLE_ENDIAN]] as const) {
      const result = await read(bytes);
      expect(result).toMatchObject({ ok: true, meta: undefined, transferSyntaxUid: syntax, dataSetStart: 0 });
      expect(await read(bytes, { bareDataSet: 'refuse' })).toMatchObject({ ok: false, code: 'NOT_PART10' });
    }
    expect(await read(Buffer.from('just some text, not DICOM at all, long enough to have a preamble '.repeat(3)))).toMatchObject({ ok: false, code: 'NOT_PART10' });
    expect(await read(Buffer.alloc(0))).toMatchObject({ ok: false, code: 'NOT_PART10', reason: 'the file is empty' });
  });

  it('names every missing identifying UID, and checks the meta header against the data set', async () => {
    const noSeries = Buffer.concat([el(TAG.SOPClassUID, 'UI', CT), el(TAG.SOPInstanceUID, 'UI', IDS.sopInstanceUid), el(TAG.StudyInstanceUID, 'UI', IDS.studyInstanceUid)]);
    const result = await read(part10(noSeries));
    expect(result).toMatchObject({ ok: false, code: 'MISSING_IDENTITY' });
    if (!result.ok) expect(result.reason).toContain('Series Instance UID (0020,000E)');
    // A DICOMDIR has no SOP instance of its own: not an instance, not refused for that.
    expect((await read(part10(Buffer.alloc(0)), { kind: 'directory' })).ok).toBe(true);
    const otherInstance = part10(identity(), EXPLICIT_VR_LITTLE_ENDIAN, { ...IDS, sopInstanceUid: '1.2.3.4' });
    expect(await read(otherInstance)).toMatchObject({ ok: false, code: 'BAD_META_HEADER' });
  });

  it('refuses an identifying UID given twice, but keeps the first of any other attribute given twice', async () => {
    const twiceUid = part10(Buffer.concat([identity(), el(TAG.SOPInstanceUID, 'UI', '1.2.3')]));
    expect(await read(twiceUid)).toMatchObject({ ok: false, code: 'MALFORMED' });
    const twiceName = part10(identity(IDS, [el(TAG.PatientName, 'PN', 'FIRST'), el(TAG.PatientName, 'PN', 'SECOND')]));
    const result = await read(twiceName, { keep: new Set([TAG.PatientName]) });
    expect(result.ok && result.facts.values.get(TAG.PatientName)?.toString('latin1').trim()).toBe('FIRST');
    // Whether the caller keeps the name or not, the verdict is the same.
    expect((await read(twiceName)).ok).toBe(true);
  });

  it('hands over the items of one top-level sequence with the values asked for, one item at a time', async () => {
    const record = (type: string, file?: string) => {
      const body = Buffer.concat([el(TAG.DirectoryRecordType, 'CS', type), ...(file ? [el(TAG.ReferencedFileID, 'CS', file)] : [])]);
      return Buffer.concat([encodeItemHeader(TAG.Item, body.length), body]);
    };
    const items = Buffer.concat([record('PATIENT'), record('IMAGE', 'DIR\\IM1'), record('IMAGE', 'DIR\\IM2')]);
    const directory = part10(Buffer.concat([encodeElementHeader(TAG.DirectoryRecordSequence, 'SQ', items.length), items]), EXPLICIT_VR_LITTLE_ENDIAN, { ...IDS, sopClassUid: '1.2.840.10008.1.3.10' });
    const seen: string[] = [];
    const result = await read(directory, {
      kind: 'directory',
      items: { sequence: TAG.DirectoryRecordSequence, keep: new Set([TAG.DirectoryRecordType, TAG.ReferencedFileID]), onItem: (values) => seen.push([...values.values()].map((v) => v.toString('latin1').trim()).join(':')) },
    });
    expect(result.ok).toBe(true);
    expect(seen).toEqual(['PATIENT', 'IMAGE:DIR\\IM1', 'IMAGE:DIR\\IM2']);
  });

  it('stops at Pixel Data without reading it, and walks the fragments only when asked', async () => {
    const frame = Buffer.alloc(1000, 0xab);
    const whole = part10(Buffer.concat([identity(), encapsulated([frame, frame])]), JPEG_BASELINE);
    const cut = whole.subarray(0, whole.length - 600);
    const stopped = await read(cut);
    expect(stopped).toMatchObject({ ok: true, facts: { endedBy: 'pixel-data', pixelData: { tag: TAG.PixelData, length: 0xffffffff } } });
    expect((await read(whole, { throughPixelData: true })).ok).toBe(true);
    const walked = await read(cut, { throughPixelData: true });
    expect(walked).toMatchObject({ ok: false, code: 'TRUNCATED' });
    if (!walked.ok) expect(walked.reason).toMatch(/\(FFFE,E000\).*byte \d+/);
    const undelimited = part10(Buffer.concat([identity(), encapsulated([frame], false)]), JPEG_BASELINE);
    expect(await read(undelimited, { throughPixelData: true })).toMatchObject({ ok: false, code: 'TRUNCATED' });
  });

  it('reads a deflated data set, and tells a deflate stream cut short', async () => {
    const dataSet = identity(IDS, [el(TAG.PatientID, 'LO', 'P1')]);
    const bytes = part10(deflateRawSync(dataSet), DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN);
    const result = await read(bytes, { keep: new Set([TAG.PatientID]) });
    expect(result.ok && result.facts.values.get(TAG.PatientID)?.toString('latin1')).toBe('P1');
    expect(await read(bytes.subarray(0, bytes.length - 10))).toMatchObject({ ok: false, code: 'TRUNCATED' });
  });

  it('gives one reason for a value cut short in a deflated data set, whether the value is kept or not', async () => {
    // Instance Number (0020,0013) declaring far more bytes than the stream holds (found by faults/verdict-agreement.test.ts).
    const long = Buffer.concat([encodeElementHeader(TAG.InstanceNumber, 'IS', 0xe59e), Buffer.from('12')]);
    const pixels = encodeElement(TAG.PixelData, 'OB', Buffer.alloc(2048, 0x5a));
    const bytes = part10(deflateRawSync(Buffer.concat([identity(), long, pixels])), DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN);
    const kept = await read(bytes, { keep: new Set([TAG.InstanceNumber]) });
    const skipped = await read(bytes);
    expect(kept).toMatchObject({ ok: false, code: 'TRUNCATED' });
    expect(skipped).toEqual(kept);
    if (!kept.ok) expect(kept.reason).toMatch(/ends inside \(0020,0013\): its value starts at byte \d+ of the inflated data set and declares 58782 bytes, of which 2062 are there/);
  });

  it('walks nested defined-length sequences in a deflated data set forward, as the stream allows', async () => {
    // Found by the malformed-input fuzzer (sequence-bomb on a deflated seed): the stream is read forward only.
    // More than one read and one inflated chunk (64 KiB each) inside the sequences.
    let nested = Buffer.concat([el(TAG.Modality, 'CS', 'OT'), encodeElement(0x00091010, 'OB', Buffer.alloc(300 * 1024, 0x33))]);
    for (let level = 0; level < 40; level++) {
      const item = Buffer.concat([encodeItemHeader(TAG.Item, nested.length), nested]);
      nested = Buffer.concat([encodeElementHeader(0x00081115, 'SQ', item.length), item]);
    }
    const bytes = part10(deflateRawSync(Buffer.concat([identity(), nested, el(0x00204000, 'LT', 'after the sequences')])), DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN);
    const result = await read(bytes, { keep: new Set([0x00204000]) });
    expect(result.ok && result.facts.values.get(0x00204000)?.toString('latin1')).toBe('after the sequences ');
  });

  it('keeps no value longer than its cap, and reads no more than its budget', async () => {
    const big = encodeElement(0x00189999, 'UT', Buffer.alloc(200 * 1024, 0x41));
    const bytes = part10(identity(IDS, [big]));
    const result = await read(bytes, { keep: new Set([0x00189999]) });
    expect(result.ok && result.facts.values.has(0x00189999)).toBe(false);
    expect(await read(bytes, { maxHeaderBytes: 4096, firstReadBytes: 1024 })).toMatchObject({ ok: true });
    const sequenceOfMany = Buffer.concat(Array.from({ length: 2000 }, () => encodeItemHeader(TAG.Item, 0)));
    const deep = part10(identity(IDS, [encodeElementHeader(0x00081140, 'SQ', sequenceOfMany.length), sequenceOfMany]));
    expect(await read(deep, { maxHeaderBytes: 4096, firstReadBytes: 1024 })).toMatchObject({ ok: false, code: 'HEADER_TOO_LARGE' });
  });
});

describe('element writer', () => {
  it('pads text to even length as PS3.5 §6.2 asks and refuses an odd value', () => {
    expect(paddedText('1.2.3', 'UI')).toEqual(Buffer.from('1.2.3\0', 'latin1'));
    expect(paddedText('CT1', 'CS')).toEqual(Buffer.from('CT1 ', 'latin1'));
    expect(paddedText('Zoë', 'PN', 'utf8').length % 2).toBe(0);
    expect(() => encodeElement(TAG.Modality, 'CS', Buffer.from('CT1'))).toThrow(/even length/);
    expect(() => encodeElementHeader(TAG.PatientName, 'PN', 70_000)).toThrow(/16-bit length/);
    expect(encodeElementHeader(TAG.PixelData, 'OB', 10)).toHaveLength(12);
  });
});

describe('text values', () => {
  it('decodes by the Specific Character Set, and falls back to Latin-1', () => {
    expect(textDecoderFor('ISO_IR 192')(Buffer.from('Zoë^Ånström', 'utf8'))).toBe('Zoë^Ånström');
    expect(textDecoderFor('ISO_IR 100')(Buffer.from('Zoë', 'latin1'))).toBe('Zoë');
    expect(textDecoderFor('ISO_IR 144')(Buffer.from([0xb8, 0xd2, 0xd0, 0xdd]))).toBe('Иван');
    expect(textDecoderFor(undefined)(Buffer.from('ABC'))).toBe('ABC');
    expect(textDecoderFor('NOT A CHARSET')(Buffer.from([0xe9]))).toBe('é');
  });
});
