import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_HEADER_BYTES } from '@relaypacs/dicom';
import type { ValidationResult } from '../../src/dicom/part10-validator.js';
import type { INSTANCE_REJECTION_CODES } from '../../src/protocol/error-codes.js';
import {
  SAMPLE_IDS, TS, UNDEFINED, dataSet, element, encapsulatedPixelData, item, nativeImage, part10, sequence, text, uid,
  type Syntax,
} from './part10-builder.js';
import { expectationsFor, validateBytes } from './test-support.js';

const SYNTAXES: ReadonlyArray<[Syntax, string]> = [
  ['explicit-le', TS.explicitLe],
  ['implicit-le', TS.implicitLe],
  ['explicit-be', TS.explicitBe],
];
const EXPLICIT_SYNTAXES = SYNTAXES.filter(([syntax]) => syntax !== 'implicit-le');

const expected = expectationsFor(SAMPLE_IDS);

function expectRejected(result: ValidationResult, code: keyof typeof INSTANCE_REJECTION_CODES): void {
  expect(result.ok ? 'accepted' : result.code, result.ok ? '' : result.reason).toBe(code);
}

async function verdict(syntax: Syntax, ts: string, middle: Buffer[], tail = nativeImage(syntax)): Promise<ValidationResult> {
  return (await validateBytes(part10(SAMPLE_IDS, ts, dataSet(SAMPLE_IDS, syntax, { middle, tail })), expected)).result;
}

/** A small item data set: a code value and a referenced UID, as in most real sequences. */
function codeItem(syntax: Syntax, value = 'T-A0100'): Buffer {
  return Buffer.concat([text(0x00080100, 'SH', value, syntax), text(0x00080102, 'SH', 'SRT', syntax), uid(0x00081155, '1.2.3.4', syntax)]);
}

describe('sequences', () => {
  it.each(SYNTAXES)('walks %s sequences of undefined length with items of undefined length, nested', async (syntax, ts) => {
    const inner = sequence(0x00082228, [item(codeItem(syntax), syntax, true)], syntax, true);
    const middle = [
      sequence(0x00081032, [item(codeItem(syntax), syntax, true), item(Buffer.concat([codeItem(syntax), inner]), syntax, true)], syntax, true),
      sequence(0x00081140, [], syntax, true), // empty
      sequence(0x00400275, [item(Buffer.alloc(0), syntax, true)], syntax, true), // one empty item
    ];
    const result = await verdict(syntax, ts, middle);
    expect(result).toMatchObject({ ok: true, transferSyntaxUid: ts, studyInstanceUid: SAMPLE_IDS.studyInstanceUid });
  });

  it.each(SYNTAXES)('walks %s sequences of defined length, mixed with undefined ones', async (syntax, ts) => {
    const nested = sequence(0x00082228, [item(codeItem(syntax), syntax), item(codeItem(syntax, 'X'), syntax, true)], syntax, true);
    const middle = [
      sequence(0x00081032, [item(codeItem(syntax), syntax), item(Buffer.concat([codeItem(syntax), nested]), syntax)], syntax),
      sequence(0x00081140, [], syntax), // empty, length 0
    ];
    expect((await verdict(syntax, ts, middle)).ok).toBe(true);
  });

  it.each(EXPLICIT_SYNTAXES)('reads a %s UN element of undefined length as a sequence in implicit VR little endian (PS3.5 §6.2.2)', async (syntax, ts) => {
    const implicitItem = item(codeItem('implicit-le'), 'implicit-le', true);
    const sequenceDelimiter = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    const un = element(0x00291010, 'UN', Buffer.concat([implicitItem, sequenceDelimiter]), syntax, UNDEFINED);
    expect((await verdict(syntax, ts, [un])).ok).toBe(true);
    // Read in the data set's own byte order instead, the same bytes would not parse.
    const wrong = element(0x00291010, 'UN', Buffer.concat([item(codeItem(syntax), syntax, true), sequenceDelimiter]), syntax, UNDEFINED);
    expect((await verdict(syntax, ts, [wrong])).ok).toBe(false);
  });

  it.each(SYNTAXES)('skips %s encapsulated pixel data nested in an icon image sequence', async (syntax, ts) => {
    const icon = Buffer.concat([
      text(0x00280004, 'CS', 'MONOCHROME2', syntax),
      encapsulatedPixelData([Buffer.alloc(30, 0xff), Buffer.alloc(6, 0xd9)], syntax),
    ]);
    const result = await verdict(syntax, ts, [sequence(0x00880200, [item(icon, syntax, true)], syntax, true)]);
    expect(result.ok).toBe(true);
  });

  it('rejects an item longer than its sequence, and an element longer than its item', async () => {
    const syntax = 'explicit-le';
    const longItem = Buffer.from(item(codeItem(syntax), syntax));
    longItem.writeUInt32LE(longItem.readUInt32LE(4) + 2, 4);
    expectRejected(await verdict(syntax, TS.explicitLe, [sequence(0x00081032, [longItem, item(codeItem(syntax), syntax)], syntax)]), 'MALFORMED');
    const longElement = Buffer.concat([text(0x00080100, 'SH', 'T-A0100', syntax), element(0x00080102, 'SH', 'SRT ', syntax, 0x200)]);
    expectRejected(await verdict(syntax, TS.explicitLe, [sequence(0x00081032, [item(longElement, syntax)], syntax)]), 'MALFORMED');
    const absurd = Buffer.concat([element(0x00091011, 'OB', Buffer.alloc(4), syntax, 0xfffffff0)]);
    const { result, log } = await validateBytes(part10(SAMPLE_IDS, TS.explicitLe, dataSet(SAMPLE_IDS, syntax, {
      middle: [sequence(0x00081032, [item(absurd, syntax)], syntax)], tail: nativeImage(syntax),
    })), expected);
    expectRejected(result, 'MALFORMED');
    expect(log.bytes).toBeLessThanOrEqual(64 * 1024);
  });

  it('rejects a sequence that holds something other than items, and delimiters out of place', async () => {
    const syntax = 'explicit-le';
    expectRejected(await verdict(syntax, TS.explicitLe, [sequence(0x00081032, [codeItem(syntax)], syntax, true)]), 'MALFORMED');
    const itemDelimiter = Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]);
    expectRejected(await verdict(syntax, TS.explicitLe, [itemDelimiter]), 'MALFORMED');
    expectRejected(await verdict(syntax, TS.explicitLe, [sequence(0x00081032, [item(Buffer.concat([codeItem(syntax), itemDelimiter]), syntax)], syntax)]), 'MALFORMED');
  });

  it('rejects a sequence of undefined length that the file ends inside as truncated', async () => {
    const syntax = 'explicit-le';
    const open = Buffer.concat([element(0x00081032, 'SQ', Buffer.alloc(0), syntax, UNDEFINED), item(codeItem(syntax), syntax, true)]);
    const bytes = Buffer.concat([part10(SAMPLE_IDS, TS.explicitLe, dataSet(SAMPLE_IDS, syntax)), open]);
    expectRejected((await validateBytes(bytes, expected)).result, 'TRUNCATED');
  });

  it('rejects sequences nested absurdly deep', async () => {
    const syntax = 'explicit-le';
    let nested = codeItem(syntax);
    for (let depth = 0; depth < 200; depth++) nested = sequence(0x00081032, [item(nested, syntax, true)], syntax, true);
    const result = await verdict(syntax, TS.explicitLe, [nested]);
    expectRejected(result, 'MALFORMED');
    expect(result.ok ? '' : result.reason).toContain('nested');
    let fine = codeItem(syntax);
    for (let depth = 0; depth < 20; depth++) fine = sequence(0x00081032, [item(fine, syntax, true)], syntax, true);
    expect((await verdict(syntax, TS.explicitLe, [fine])).ok).toBe(true);
  });

  it('rejects an undefined length on a VR that cannot have one', async () => {
    const syntax = 'explicit-le';
    expectRejected(await verdict(syntax, TS.explicitLe, [element(0x00081030, 'UT', Buffer.alloc(0), syntax, UNDEFINED)]), 'MALFORMED');
  });
});

describe('values and value representations', () => {
  it.each(SYNTAXES)('accepts %s UIDs padded with NUL or space and returns them without padding', async (syntax, ts) => {
    const ids = { ...SAMPLE_IDS, sopInstanceUid: '1.2.826.0.1.3680043.10.1078.2.1', studyInstanceUid: '1.2.826.0.1.3680043.10.1078.333' };
    // Odd lengths, so each value needs its pad byte.
    for (const value of Object.values(ids)) expect(value.length % 2).toBe(1);
    for (const pad of ['\0', ' ']) {
      const bytes = part10(ids, ts, dataSet(ids, syntax, { pad, tail: nativeImage(syntax) }), { pad });
      const { result } = await validateBytes(bytes, expectationsFor(ids));
      expect(result).toEqual({ ok: true, transferSyntaxUid: ts, ...ids });
    }
  });

  it('accepts odd value lengths, which broken writers produce and PACS tolerate', async () => {
    for (const [syntax, ts] of SYNTAXES) {
      const result = await verdict(syntax, ts, [element(0x00081030, 'LO', 'ABC', syntax), element(0x00091010, 'OB', Buffer.alloc(3), syntax)]);
      expect(result.ok).toBe(true);
    }
  });

  it('rejects an unknown value representation', async () => {
    for (const vr of ['ZZ', 'ob', '\0\0']) {
      expectRejected(await verdict('explicit-le', TS.explicitLe, [element(0x00081030, vr, 'ABCD', 'explicit-le')]), 'MALFORMED');
    }
  });

  it('rejects a UID that appears twice, or that is far too long to be one', async () => {
    const syntax = 'explicit-le';
    const twice = Buffer.concat([part10(SAMPLE_IDS, TS.explicitLe, dataSet(SAMPLE_IDS, syntax)), uid(0x00080018, SAMPLE_IDS.sopInstanceUid, syntax)]);
    expectRejected((await validateBytes(twice, expected)).result, 'MALFORMED');
    const long = part10(SAMPLE_IDS, TS.explicitLe, Buffer.concat([uid(0x00080016, SAMPLE_IDS.sopClassUid, syntax), element(0x00080018, 'UI', '1'.repeat(1000), syntax)]));
    expectRejected((await validateBytes(long, expected)).result, 'MALFORMED');
  });

  it('names a missing UID, and does not mistake a complete non-image object for a cut one', async () => {
    const syntax = 'explicit-le';
    const noStudy = Buffer.concat([
      text(0x00080005, 'CS', 'ISO_IR 100', syntax), uid(0x00080016, SAMPLE_IDS.sopClassUid, syntax), uid(0x00080018, SAMPLE_IDS.sopInstanceUid, syntax),
      uid(0x0020000e, '1.2.3.4.5', syntax), ...nativeImage(syntax),
    ]);
    expectRejected((await validateBytes(part10(SAMPLE_IDS, TS.explicitLe, noStudy), expected)).result, 'MISSING_IDENTITY');
    // A Basic Text SR: no Rows, no Pixel Data, complete.
    const sr = { ...SAMPLE_IDS, sopClassUid: '1.2.840.10008.5.1.4.1.1.88.11' };
    const report = part10(sr, TS.explicitLe, dataSet(sr, syntax, { middle: [text(0x0040a040, 'CS', 'CONTAINER', syntax)] }));
    expect((await validateBytes(report, expectationsFor(sr))).result.ok).toBe(true);
  });

  it('accepts a whole image object that has no Pixel Data, as a PACS stores it (issue 14)', async () => {
    for (const [syntax, ts] of SYNTAXES) {
      const withoutPixels = nativeImage(syntax).slice(0, -1);
      const result = await verdict(syntax, ts, [], withoutPixels);
      expect(result.ok, JSON.stringify(result)).toBe(true);
    }
  });
});

describe('transfer syntaxes', () => {
  it.each([['JPEG Baseline', TS.jpegBaseline], ['JPEG 2000', TS.jpeg2000], ['RLE Lossless', TS.rle]])(
    'accepts %s with encapsulated pixel data and stops at it',
    async (_name, ts) => {
      const tail = [...nativeImage('explicit-le').slice(0, -1), encapsulatedPixelData([Buffer.alloc(5000, 0xab), Buffer.alloc(3000, 0xcd)], 'explicit-le')];
      const { result, log } = await validateBytes(part10(SAMPLE_IDS, ts, dataSet(SAMPLE_IDS, 'explicit-le', { tail })), expected);
      expect(result).toMatchObject({ ok: true, transferSyntaxUid: ts });
      expect(log.ranges).toHaveLength(1);
    },
  );

  it('rejects pixel data whose encoding contradicts the transfer syntax (PS3.5 §A.4)', async () => {
    const encapsulated = [...nativeImage('explicit-le').slice(0, -1), encapsulatedPixelData([Buffer.alloc(16)], 'explicit-le')];
    expectRejected(await verdict('explicit-le', TS.explicitLe, [], encapsulated), 'MALFORMED');
    expectRejected(await verdict('explicit-le', TS.jpegBaseline, [], nativeImage('explicit-le')), 'MALFORMED');
  });

  it('parses an unknown transfer syntax as explicit VR little endian and records it', async () => {
    const privateTs = '1.2.826.0.1.3680043.10.1078.9.1';
    const result = await verdict('explicit-le', privateTs, []);
    expect(result).toMatchObject({ ok: true, transferSyntaxUid: privateTs });
  });

  it('rejects a missing or malformed Transfer Syntax UID', async () => {
    expectRejected(await verdict('explicit-le', 'not a uid', []), 'BAD_META_HEADER');
    expectRejected(await verdict('explicit-le', '', []), 'BAD_META_HEADER');
  });

  it('walks a deflated data set and rejects one that is not a deflate stream', async () => {
    const plain = dataSet(SAMPLE_IDS, 'explicit-le', { tail: nativeImage('explicit-le') });
    const deflated = part10(SAMPLE_IDS, TS.deflatedLe, deflateRawSync(plain));
    expect((await validateBytes(deflated, expected)).result).toMatchObject({ ok: true, transferSyntaxUid: TS.deflatedLe });
    const garbage = part10(SAMPLE_IDS, TS.deflatedLe, Buffer.from('this is not a deflate stream at all, just text', 'latin1'));
    expectRejected((await validateBytes(garbage, expected)).result, 'MALFORMED');
    const absurdLength = dataSet(SAMPLE_IDS, 'explicit-le', { middle: [element(0x00291010, 'OB', Buffer.alloc(8), 'explicit-le', 0xfffffff0)] });
    const absurd = part10(SAMPLE_IDS, TS.deflatedLe, deflateRawSync(absurdLength));
    expectRejected((await validateBytes(absurd, expected)).result, 'TRUNCATED');
  });

  it('stops inflating a deflate bomb at the cap', async () => {
    // 64 MiB of zeros in a private element before the pixel data deflate to ~64 KiB.
    const bomb = dataSet(SAMPLE_IDS, 'explicit-le', { middle: [element(0x00091010, 'OB', Buffer.alloc(64 * 1024 * 1024), 'explicit-le')], tail: nativeImage('explicit-le') });
    const file = part10(SAMPLE_IDS, TS.deflatedLe, deflateRawSync(bomb));
    const { result, log } = await validateBytes(file, expected);
    expectRejected(result, 'HEADER_TOO_LARGE');
    expect(log.bytes).toBeLessThanOrEqual(256 * 1024);
  });
});

describe('large headers and large values', () => {
  it('skips a large encapsulated document without reading it, then walks on after it', async () => {
    const pdf = { ...SAMPLE_IDS, sopClassUid: '1.2.840.10008.5.1.4.1.1.104.1' };
    const syntax = 'explicit-le';
    const document = element(0x00420011, 'OB', Buffer.alloc(20 * 1024 * 1024, 0x25), syntax);
    const bytes = part10(pdf, TS.explicitLe, dataSet(pdf, syntax, { tail: [document, text(0x00420012, 'LO', 'application/pdf', syntax)] }));
    const { result, log } = await validateBytes(bytes, expectationsFor(pdf));
    expect(result.ok).toBe(true);
    // The first 64 KiB read, then one small read past the 20 MiB document for the element after it.
    expect(log.ranges).toHaveLength(2);
    expect(log.bytes).toBeLessThanOrEqual(68 * 1024);
  });

  it('rejects a header that needs more than the cap to walk, reading no more than the cap', async () => {
    const syntax = 'explicit-le';
    // 17 MiB of small items in one sequence: every byte must be walked to find the sequence's end.
    const oneItem = item(element(0x00081030, 'LO', 'ABCD', syntax), syntax);
    const items = new Array<Buffer>(Math.ceil((DEFAULT_MAX_HEADER_BYTES + 1024 * 1024) / oneItem.length)).fill(oneItem);
    const bytes = part10(SAMPLE_IDS, TS.explicitLe, dataSet(SAMPLE_IDS, syntax, { middle: [sequence(0x00081032, items, syntax, true)], tail: nativeImage(syntax) }));
    const { result, log } = await validateBytes(bytes, expected);
    expectRejected(result, 'HEADER_TOO_LARGE');
    expect(log.bytes).toBeLessThanOrEqual(DEFAULT_MAX_HEADER_BYTES);
    expect(log.largest).toBeLessThanOrEqual(1024 * 1024);
    // With a higher cap the same instance is fine.
    expect((await validateBytes(bytes, expected, { maxHeaderBytes: 64 * 1024 * 1024 })).result.ok).toBe(true);
  });
});
