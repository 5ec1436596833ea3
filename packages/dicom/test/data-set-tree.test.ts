// The tree reader on bytes built here: nesting in every length form, implicit VR, deflate, and the
// bounds that keep a hostile object from costing unbounded time or memory. Files other toolkits
// write (DCMTK's SRs and PDFs) are read in server/test/reports.
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, TAG, dataSetEncoding, encodeElement,
  encodeElementHeader, encodeFileMeta, encodeItemHeader, paddedText, readDataSetTree, readPart10Tree, type ValueRepresentation,
} from '../src/index.js';
import { implicit } from './implicit-element.js';

const SR = '1.2.840.10008.5.1.4.1.1.88.33';
const IDS = { sopClassUid: SR, sopInstanceUid: '1.2.826.0.1.3680043.10.1078.7.1', studyInstanceUid: '1.2.826.0.1.3680043.10.1078.7', seriesInstanceUid: '1.2.826.0.1.3680043.10.1078.7.2' };
const el = (tag: number, vr: ValueRepresentation, text: string) => encodeElement(tag, vr, paddedText(text, vr));
const item = (...elements: Buffer[]) => { const body = Buffer.concat(elements); return Buffer.concat([encodeItemHeader(TAG.Item, body.length), body]); };
const undefinedItem = (...elements: Buffer[]) => Buffer.concat([encodeItemHeader(TAG.Item, 0xffffffff), ...elements, encodeItemHeader(TAG.ItemDelimitationItem, 0)]);
const sequence = (tag: number, ...items: Buffer[]) => { const body = Buffer.concat(items); return Buffer.concat([encodeElementHeader(tag, 'SQ', body.length), body]); };
const undefinedSequence = (tag: number, ...items: Buffer[]) => Buffer.concat([encodeElementHeader(tag, 'SQ', 0xffffffff), ...items, encodeItemHeader(TAG.SequenceDelimitationItem, 0)]);
const part10 = (dataSet: Buffer, transferSyntaxUid = EXPLICIT_VR_LITTLE_ENDIAN) =>
  Buffer.concat([encodeFileMeta({ ...IDS, transferSyntaxUid, implementationClassUid: '1.2.3', implementationVersionName: 'TEST' }), dataSet]);


const code = (value: string, scheme: string, meaning: string) => item(el(TAG.CodeValue, 'SH', value), el(TAG.CodingSchemeDesignator, 'SH', scheme), el(TAG.CodeMeaning, 'LO', meaning));

describe('readPart10Tree', () => {
  it('reads nested sequences whatever their lengths, with values, UIDs and text decoded by the character set', async () => {
    const dataSet = Buffer.concat([
      el(TAG.SpecificCharacterSet, 'CS', 'ISO_IR 192'),
      el(TAG.SOPClassUID, 'UI', SR),
      el(TAG.StudyInstanceUID, 'UI', IDS.studyInstanceUid),
      sequence(TAG.ConceptNameCodeSequence, code('18748-4', 'LN', 'Diagnostic Imaging Report')),
      undefinedSequence(TAG.ContentSequence,
        undefinedItem(el(TAG.ValueType, 'CS', 'CONTAINER'), sequence(TAG.ContentSequence,
          item(el(TAG.ValueType, 'CS', 'TEXT'), encodeElement(TAG.TextValue, 'UT', paddedText('Größe normal.\nKein Befund', 'UT', 'utf8'))))),
        item(el(TAG.ValueType, 'CS', 'CODE'))),
    ]);
    const { meta, dataSet: tree } = await readPart10Tree(part10(dataSet));
    expect(meta.transferSyntaxUid).toBe(EXPLICIT_VR_LITTLE_ENDIAN);
    expect(tree.uid(TAG.SOPClassUID)).toBe(SR);
    expect(tree.items(TAG.ConceptNameCodeSequence)[0]!.text(TAG.CodeMeaning)).toBe('Diagnostic Imaging Report');
    const content = tree.items(TAG.ContentSequence);
    expect(content.map((i) => i.text(TAG.ValueType))).toEqual(['CONTAINER', 'CODE']);
    expect(content[0]!.items(TAG.ContentSequence)[0]!.longText(TAG.TextValue)).toBe('Größe normal.\nKein Befund');
    expect(tree.items(TAG.PredecessorDocumentsSequence)).toEqual([]);
    expect(tree.text(TAG.PatientName)).toBeUndefined();
  });

  it('reads implicit VR: a value made of items is a sequence, an undefined length one too', async () => {
    const inner = implicit(TAG.CodeValue, paddedText('121071', 'SH'));
    const body = Buffer.concat([
      implicit(TAG.SOPClassUID, paddedText(SR, 'UI')),
      implicit(TAG.ConceptNameCodeSequence, item(inner)),
      implicit(TAG.ContentSequence, Buffer.concat([undefinedItem(implicit(TAG.ValueType, paddedText('TEXT', 'CS'))), encodeItemHeader(TAG.SequenceDelimitationItem, 0)]), 0xffffffff),
      implicit(TAG.TextValue, paddedText('plain', 'UT')),
    ]);
    const { dataSet } = await readPart10Tree(part10(body, IMPLICIT_VR_LITTLE_ENDIAN));
    expect(dataSet.items(TAG.ConceptNameCodeSequence)[0]!.text(TAG.CodeValue)).toBe('121071');
    expect(dataSet.items(TAG.ContentSequence)[0]!.text(TAG.ValueType)).toBe('TEXT');
    expect(dataSet.text(TAG.TextValue)).toBe('plain');
  });

  it('inflates a deflated data set, within its limit', async () => {
    const body = Buffer.concat([el(TAG.SOPClassUID, 'UI', SR), sequence(TAG.ContentSequence, item(el(TAG.ValueType, 'CS', 'TEXT')))]);
    const file = part10(deflateRawSync(body), DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN);
    expect((await readPart10Tree(file)).dataSet.items(TAG.ContentSequence)).toHaveLength(1);
    await expect(readPart10Tree(file, { maxInflatedBytes: 16 })).rejects.toMatchObject({ code: 'MALFORMED' });
  });

  it('skips encapsulated pixel data and keeps no fragment', async () => {
    const pixels = Buffer.concat([encodeElementHeader(TAG.PixelData, 'OB', 0xffffffff), encodeItemHeader(TAG.Item, 0),
      encodeItemHeader(TAG.Item, 4), Buffer.from([1, 2, 3, 4]), encodeItemHeader(TAG.SequenceDelimitationItem, 0)]);
    const tree = await readDataSetTree(Buffer.concat([el(TAG.SOPClassUID, 'UI', SR), pixels]), dataSetEncoding('1.2.840.10008.1.2.4.50'));
    expect(tree.has(TAG.PixelData)).toBe(true);
    expect(tree.bytes(TAG.PixelData)).toBeUndefined();
  });

  it('refuses what would cost unbounded work: nesting past the limit, more elements than allowed, cut or broken structure', async () => {
    let nested = el(TAG.ValueType, 'CS', 'TEXT');
    for (let depth = 0; depth < 80; depth++) nested = undefinedSequence(TAG.ContentSequence, undefinedItem(nested));
    await expect(readPart10Tree(part10(nested))).rejects.toMatchObject({ code: 'MALFORMED', reason: expect.stringContaining('deeper') });
    // Empty items cost 8 bytes each and a data set in memory each: they count against the budget too.
    const emptyItems = Buffer.concat(Array.from({ length: 1000 }, () => item()));
    await expect(readPart10Tree(part10(sequence(TAG.ContentSequence, emptyItems)), { maxElements: 500 })).rejects.toMatchObject({ code: 'MALFORMED' });
    expect((await readPart10Tree(part10(sequence(TAG.ContentSequence, emptyItems)), { maxElements: 1100 })).dataSet.items(TAG.ContentSequence)).toHaveLength(1000);
    const many = Buffer.concat(Array.from({ length: 50 }, () => item(el(TAG.ValueType, 'CS', 'TEXT'))));
    await expect(readPart10Tree(part10(sequence(TAG.ContentSequence, many)), { maxElements: 40 })).rejects.toMatchObject({ code: 'MALFORMED' });
    const whole = part10(sequence(TAG.ContentSequence, item(el(TAG.ValueType, 'CS', 'TEXT'))));
    await expect(readPart10Tree(whole.subarray(0, whole.length - 3))).rejects.toMatchObject({ code: 'TRUNCATED' });
    const unclosed = part10(Buffer.concat([encodeElementHeader(TAG.ContentSequence, 'SQ', 0xffffffff), undefinedItem(el(TAG.ValueType, 'CS', 'TEXT'))]));
    await expect(readPart10Tree(unclosed)).rejects.toMatchObject({ code: 'TRUNCATED' });
    const stray = part10(sequence(TAG.ContentSequence, el(TAG.ValueType, 'CS', 'TEXT')));
    await expect(readPart10Tree(stray)).rejects.toMatchObject({ code: 'MALFORMED' });
    await expect(readPart10Tree(Buffer.from('not dicom'))).rejects.toMatchObject({ code: 'NOT_PART10' });
  });
});
