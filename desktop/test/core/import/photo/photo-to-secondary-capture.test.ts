import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dcmdump, dumpedValue } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhotoConversionError, wrapPhotoAsSecondaryCapture, type SecondaryCaptureAttributes } from '../../../../src/core/import/photo/photo-to-secondary-capture.js';
import { BLUE, RED, dcmtkJpeg, firstFrame, jpegJs, leftRedRightBlue, palettePng, pngjsPng, withExifOrientation, type Rgb } from './photo-fixtures.js';

const ATTRIBUTES: SecondaryCaptureAttributes = {
  patientName: 'PHOTO^PATIENT',
  patientId: 'PHOTO-0001',
  patientBirthDate: '19700312',
  patientSex: 'F',
  studyInstanceUid: '2.25.118263504271949062233312906227383519342',
  studyDate: '20260410',
  studyTime: '101500',
  studyDescription: 'WOUND CARE',
  accessionNumber: 'ACC0001',
  referringPhysicianName: 'REFERRER^A',
};

const TS = { explicitLe: '1.2.840.10008.1.2.1', baseline: '1.2.840.10008.1.2.4.50', extended: '1.2.840.10008.1.2.4.51' };

describe('wrapPhotoAsSecondaryCapture', () => {
  let work: string;
  let count = 0;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'relaypacs-photo-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function wrap(photo: Buffer, attributes: SecondaryCaptureAttributes = ATTRIBUTES) {
    const n = ++count;
    const photoPath = join(work, `photo-${n}`);
    const outPath = join(work, `photo-${n}.dcm`);
    await writeFile(photoPath, photo);
    const result = await wrapPhotoAsSecondaryCapture(photoPath, attributes, outPath);
    const dump = await dcmdump(outPath);
    return { result, dump, outPath, value: (tag: string) => dumpedValue(dump, tag) };
  }

  async function refusal(photo: Buffer, attributes: SecondaryCaptureAttributes = ATTRIBUTES): Promise<PhotoConversionError> {
    const photoPath = join(work, `bad-${++count}`);
    const outPath = `${photoPath}.dcm`;
    await writeFile(photoPath, photo);
    const error = await wrapPhotoAsSecondaryCapture(photoPath, attributes, outPath).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(PhotoConversionError);
    // Nothing is left behind: no output, no temporary file.
    expect((await readdir(work)).filter((name) => name.startsWith(`.bad-${count}`) || name === `bad-${count}.dcm`)).toEqual([]);
    return error as PhotoConversionError;
  }

  const near = (actual: ArrayLike<number>, expected: Rgb, tolerance = 40) => expected.every((sample, i) => Math.abs((actual[i] ?? -999) - sample) <= tolerance);

  it('wraps a baseline JPEG as it is: JPEG Baseline syntax, one fragment holding the original bytes', async () => {
    const jpeg = jpegJs(41, 23, leftRedRightBlue(41));
    const { result, value, outPath } = await wrap(jpeg);
    expect(result.transferSyntaxUid).toBe(TS.baseline);
    expect(result.sopInstanceUid).toMatch(/^2\.25\.[1-9][0-9]{0,38}$/);
    expect(result.seriesInstanceUid).toMatch(/^2\.25\.[1-9][0-9]{0,38}$/);
    expect(value('0002,0010')).toBe(TS.baseline);
    expect(value('0002,0002')).toBe('1.2.840.10008.5.1.4.1.1.7');
    expect(value('0008,0016')).toBe('1.2.840.10008.5.1.4.1.1.7');
    expect(value('0008,0018')).toBe(result.sopInstanceUid);
    expect(value('0002,0003')).toBe(result.sopInstanceUid);
    expect(value('0020,000e')).toBe(result.seriesInstanceUid);
    expect(value('0008,0064')).toBe('WSD');
    expect(value('0008,0060')).toBe('XC');
    expect(value('0028,0010')).toBe('23');
    expect(value('0028,0011')).toBe('41');
    expect(value('0028,0002')).toBe('3');
    expect(value('0028,0004')).toBe('YBR_FULL_422'); // 4:4:4 from jpeg-js, still YBR_FULL_422 (PS3.5 Table 8.2.1-1)
    expect(value('0028,0006')).toBe('0');
    expect(value('0028,0100')).toBe('8');
    expect(value('0028,2110')).toBe('01');
    expect(value('0028,2114')).toBe('ISO_10918_1');
    const fragment = await firstFrame(outPath);
    // An odd-length stream is padded with one 00H after EOI (PS3.5 A.4).
    expect(fragment.subarray(0, jpeg.length).equals(jpeg)).toBe(true);
    expect(fragment.length - jpeg.length).toBe(jpeg.length % 2);
  });

  it('copies the patient and study attributes, and fills the defaults', async () => {
    const { value } = await wrap(jpegJs(16, 16, () => RED));
    expect(value('0010,0010')).toBe('PHOTO^PATIENT');
    expect(value('0010,0020')).toBe('PHOTO-0001');
    expect(value('0010,0030')).toBe('19700312');
    expect(value('0010,0040')).toBe('F');
    expect(value('0020,000d')).toBe(ATTRIBUTES.studyInstanceUid);
    expect(value('0008,0020')).toBe('20260410');
    expect(value('0008,0030')).toBe('101500');
    expect(value('0008,1030')).toBe('WOUND CARE');
    expect(value('0008,0050')).toBe('ACC0001');
    expect(value('0008,0090')).toBe('REFERRER^A');
    expect(value('0008,103e')).toBe('Photos');
    expect(value('0020,0013')).toBe('1');
    expect(value('0008,0005')).toBeUndefined();
  });

  it('writes the data set in ascending tag order (PS3.5 §7.1), explicit VR, Type 2 attributes present and empty', async () => {
    const { outPath } = await wrap(pngjsPng({ width: 5, height: 3, colorType: 2, rgba: () => [...RED, 255] }), { patientName: 'PHOTO^PATIENT', patientId: 'PHOTO-0001', studyInstanceUid: ATTRIBUTES.studyInstanceUid });
    // dicom3tools' dcdump lists elements in file order (DCMTK's dcmdump sorts them as it reads), on stderr.
    const { stderr } = await promisify(execFile)('dcdump', [outPath], { maxBuffer: 16 * 1024 * 1024 });
    const elements = [...stderr.matchAll(/^\(0x([0-9a-f]{4}),0x([0-9a-f]{4})\) .*VR=<(\w\w)>\s+VL=<0x([0-9a-f]+)>/gm)]
      .map(([, group, element, vr, length]) => ({ tag: Number.parseInt(`${group}${element}`, 16), vr, length: Number.parseInt(length!, 16) }))
      .filter(({ tag }) => tag >>> 16 !== 0x0002);
    const tags = elements.map(({ tag }) => tag);
    expect(tags.length).toBeGreaterThan(30);
    expect(tags).toEqual([...tags].sort((a, b) => a - b));
    expect(new Set(tags).size).toBe(tags.length);
    expect(tags.at(-1)).toBe(0x7fe00010);
    const empty = (tag: number) => elements.find((e) => e.tag === tag)?.length;
    // Study Date, Accession Number, Referring Physician's Name, Patient's Birth Date, Patient's Sex, Study ID, Series Number.
    for (const tag of [0x00080020, 0x00080050, 0x00080090, 0x00100030, 0x00100040, 0x00200010, 0x00200011]) expect(empty(tag)).toBe(0);
    expect(elements.find((e) => e.tag === 0x00280010)).toEqual({ tag: 0x00280010, vr: 'US', length: 2 });
  });

  it('uses the series and instance given, and declares UTF-8 for non-ASCII names', async () => {
    const seriesInstanceUid = '2.25.260117397043787612196498658637017658111';
    const { result, value } = await wrap(jpegJs(16, 16, () => BLUE), {
      ...ATTRIBUTES,
      patientName: 'MÜLLER^JÖRG',
      seriesInstanceUid,
      seriesNumber: 901,
      seriesDescription: 'Wound photos',
      instanceNumber: 7,
      modality: 'OT',
      conversionType: 'DI',
    });
    expect(result.seriesInstanceUid).toBe(seriesInstanceUid);
    expect(value('0020,000e')).toBe(seriesInstanceUid);
    expect(value('0020,0011')).toBe('901');
    expect(value('0008,103e')).toBe('Wound photos');
    expect(value('0020,0013')).toBe('7');
    expect(value('0008,0060')).toBe('OT');
    expect(value('0008,0064')).toBe('DI');
    expect(value('0008,0005')).toBe('ISO_IR 192');
    expect(value('0010,0010')).toBe('MÜLLER^JÖRG');
  });

  it('marks subsampled chroma as YBR_FULL_422 (4:2:2 JPEG from the IJG library)', async () => {
    const { value, result } = await wrap(await dcmtkJpeg(work, 'ybr422', 40, 24, leftRedRightBlue(40), ['+eb', '+s2']));
    expect(result.transferSyntaxUid).toBe(TS.baseline);
    expect(value('0028,0004')).toBe('YBR_FULL_422');
  });

  it('marks a JPEG without colour transform (Adobe APP14 transform 0) as RGB', async () => {
    const { value } = await wrap(await dcmtkJpeg(work, 'rgb', 40, 24, leftRedRightBlue(40), ['+eb', '+cr']));
    expect(value('0028,0004')).toBe('RGB');
  });

  it('wraps a greyscale JPEG as MONOCHROME2', async () => {
    const { value, result } = await wrap(await dcmtkJpeg(work, 'grey', 40, 24, leftRedRightBlue(40), ['+eb', '+cm']));
    expect(result.transferSyntaxUid).toBe(TS.baseline);
    expect(value('0028,0002')).toBe('1');
    expect(value('0028,0004')).toBe('MONOCHROME2');
    expect(value('0028,0006')).toBeUndefined();
  });

  it('wraps an 8-bit extended (SOF1) JPEG under JPEG Extended, which is the syntax for that process', async () => {
    const { result, value } = await wrap(await dcmtkJpeg(work, 'extended', 40, 24, leftRedRightBlue(40), ['+ee']));
    expect(result.transferSyntaxUid).toBe(TS.extended);
    expect(value('0002,0010')).toBe(TS.extended);
  });

  it('decodes a progressive JPEG into native RGB pixels (explicit VR little endian), still declared lossy', async () => {
    const { result, value, outPath } = await wrap(await dcmtkJpeg(work, 'progressive', 40, 24, leftRedRightBlue(40), ['+ep']));
    expect(result.transferSyntaxUid).toBe(TS.explicitLe);
    expect(value('0028,0004')).toBe('RGB');
    expect(value('0028,0006')).toBe('0');
    expect(value('0028,2110')).toBe('01');
    const pixels = await firstFrame(outPath);
    expect(pixels.length).toBe(40 * 24 * 3);
    const at = (x: number, y: number) => pixels.subarray((y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
    expect(near(at(5, 12), RED)).toBe(true);
    expect(near(at(35, 12), BLUE)).toBe(true);
  });

  it.each([
    [6, 'MM', 'turned 90° clockwise: the left (red) half is now on top', { rows: '40', columns: '24' }, RED, BLUE],
    [8, 'II', 'turned 90° counter-clockwise: the left (red) half is now at the bottom', { rows: '40', columns: '24' }, BLUE, RED],
    [3, 'MM', 'turned 180°: the red half is now on the right', { rows: '24', columns: '40' }, BLUE, RED],
  ] as const)('applies EXIF orientation %i (%s): %s', async (orientation, byteOrder, _what, size, first, second) => {
    const photo = withExifOrientation(jpegJs(40, 24, leftRedRightBlue(40)), orientation, byteOrder);
    const { result, value, outPath } = await wrap(photo);
    expect(result.transferSyntaxUid).toBe(TS.explicitLe);
    expect(value('0028,0010')).toBe(size.rows);
    expect(value('0028,0011')).toBe(size.columns);
    const columns = Number(size.columns);
    const pixels = await firstFrame(outPath);
    const at = (x: number, y: number) => pixels.subarray((y * columns + x) * 3, (y * columns + x) * 3 + 3);
    if (size.rows === '40') {
      expect(near(at(12, 5), first)).toBe(true);
      expect(near(at(12, 35), second)).toBe(true);
    } else {
      expect(near(at(5, 12), first)).toBe(true);
      expect(near(at(35, 12), second)).toBe(true);
    }
  });

  it('keeps a JPEG with EXIF orientation 1 as it is', async () => {
    const { result } = await wrap(withExifOrientation(jpegJs(16, 8, () => RED), 1));
    expect(result.transferSyntaxUid).toBe(TS.baseline);
  });

  it('leaves out bytes after EOI (a Multi-Picture preview, a vendor trailer)', async () => {
    const jpeg = jpegJs(16, 16, () => RED);
    const { outPath } = await wrap(Buffer.concat([jpeg, Buffer.from('VENDOR TRAILER DATA'), jpegJs(8, 8, () => BLUE)]));
    const fragment = await firstFrame(outPath);
    expect(fragment.subarray(0, jpeg.length).equals(jpeg)).toBe(true);
    expect(fragment.length).toBe(jpeg.length + (jpeg.length % 2));
  });

  describe('PNG', () => {
    it('stores an RGB PNG as native RGB, pixel for pixel', async () => {
      const paint = (x: number, y: number) => [x * 10, y * 20, 255 - x * 10, 255] as const;
      const { result, value, outPath } = await wrap(pngjsPng({ width: 7, height: 5, colorType: 2, rgba: paint }));
      expect(result.transferSyntaxUid).toBe(TS.explicitLe);
      expect(value('0028,0004')).toBe('RGB');
      expect(value('0028,0002')).toBe('3');
      expect(value('0028,0006')).toBe('0');
      expect(value('0028,0010')).toBe('5');
      expect(value('0028,0011')).toBe('7');
      expect(value('0028,2110')).toBe('00');
      expect(value('0028,2114')).toBeUndefined();
      const pixels = await firstFrame(outPath);
      const expected: number[] = [];
      for (let y = 0; y < 5; y++) for (let x = 0; x < 7; x++) expected.push(...paint(x, y).slice(0, 3));
      expect([...pixels.subarray(0, 105)]).toEqual(expected);
      expect(pixels.length).toBe(106); // 105 bytes padded to even length
    });

    it('stores an 8-bit greyscale PNG as MONOCHROME2', async () => {
      const { value, outPath } = await wrap(pngjsPng({ width: 4, height: 2, colorType: 0, rgba: (x, y) => [x * 60 + y, x * 60 + y, x * 60 + y, 255] }));
      expect(value('0028,0004')).toBe('MONOCHROME2');
      expect(value('0028,0002')).toBe('1');
      expect(value('0028,0100')).toBe('8');
      expect([...(await firstFrame(outPath))]).toEqual([0, 60, 120, 180, 1, 61, 121, 181]);
    });

    it('keeps the full depth of a 16-bit greyscale PNG', async () => {
      const values = [0, 1000, 40_000, 65_535];
      const { value, outPath } = await wrap(pngjsPng({ width: 4, height: 1, colorType: 0, bitDepth: 16, rgba: (x) => [values[x]!, values[x]!, values[x]!, 65_535] }));
      expect(value('0028,0004')).toBe('MONOCHROME2');
      expect(value('0028,0100')).toBe('16');
      expect(value('0028,0101')).toBe('16');
      expect(value('0028,0102')).toBe('15');
      const pixels = await firstFrame(outPath);
      expect([0, 1, 2, 3].map((i) => pixels.readUInt16LE(i * 2))).toEqual(values);
    });

    it('expands a palette PNG to RGB, compositing its tRNS transparency on white', async () => {
      const palette: Rgb[] = [[255, 0, 0], [0, 128, 0], [0, 0, 0]];
      const { value, outPath } = await wrap(palettePng(3, 1, palette, (x) => x, [255, 255, 0]));
      expect(value('0028,0004')).toBe('RGB');
      expect([...(await firstFrame(outPath))]).toEqual([255, 0, 0, 0, 128, 0, 255, 255, 255, 0]);
    });

    it('composites RGBA and grey+alpha PNGs on white', async () => {
      const rgba = await wrap(pngjsPng({ width: 2, height: 1, colorType: 6, rgba: (x) => (x === 0 ? [0, 0, 0, 0] : [0, 0, 200, 128]) }));
      expect(rgba.value('0028,0004')).toBe('RGB');
      // (0·128 + 255·127) / 255 = 127, (200·128 + 255·127) / 255 = 227
      expect([...(await firstFrame(rgba.outPath))]).toEqual([255, 255, 255, 127, 127, 227]);
      const greyAlpha = await wrap(pngjsPng({ width: 2, height: 1, colorType: 4, rgba: (x) => (x === 0 ? [0, 0, 0, 255] : [0, 0, 0, 51]) }));
      expect(greyAlpha.value('0028,0004')).toBe('MONOCHROME2');
      expect([...(await firstFrame(greyAlpha.outPath))]).toEqual([0, 204]);
    });
  });

  describe('refusals', () => {
    it('refuses a truncated JPEG', async () => {
      const jpeg = jpegJs(40, 24, leftRedRightBlue(40));
      const error = await refusal(jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
      expect(error.code).toBe('FILE_TRUNCATED');
      expect(error.reason).toMatch(/JPEG ends/);
    });

    it('refuses a JPEG whose markers are damaged', async () => {
      const jpeg = Buffer.from(jpegJs(40, 24, leftRedRightBlue(40)));
      jpeg.fill(0x11, 2, 30);
      const error = await refusal(jpeg);
      expect(error.code).toBe('PHOTO_UNSUPPORTED');
      expect(error.reason).toMatch(/JPEG/);
    });

    it('refuses a damaged progressive JPEG that cannot be decoded', async () => {
      const jpeg = Buffer.from(await dcmtkJpeg(work, 'progressive-damaged', 40, 24, leftRedRightBlue(40), ['+ep']));
      // Take out the first Huffman table segment (DHT, FFC4): the markers still walk to EOI, so only
      // decoding can tell that the first scan refers to a table that is not there.
      const dht = jpeg.indexOf(Buffer.from([0xff, 0xc4]));
      const damaged = Buffer.concat([jpeg.subarray(0, dht), jpeg.subarray(dht + 2 + jpeg.readUInt16BE(dht + 2))]);
      const error = await refusal(damaged);
      expect(error.code).toBe('PHOTO_UNSUPPORTED');
      expect(error.reason).toMatch(/^the JPEG does not decode/);
    });

    it('refuses lossless and 12-bit JPEGs: they are not photos', async () => {
      const lossless = await refusal(await dcmtkJpeg(work, 'lossless', 40, 24, leftRedRightBlue(40), ['+el']));
      expect(lossless.reason).toMatch(/lossless coding/);
      const twelve = await refusal(await dcmtkJpeg(work, 'twelve', 40, 24, leftRedRightBlue(40), ['+ee', '+bt']));
      expect(twelve.reason).toMatch(/12-bit/);
    });

    it('refuses a truncated PNG', async () => {
      const png = pngjsPng({ width: 30, height: 30, colorType: 2, rgba: (x, y) => [x * 8, y * 8, 0, 255] });
      const error = await refusal(png.subarray(0, png.length - 40));
      expect(error.code).toBe('FILE_TRUNCATED');
    });

    it('refuses a PNG whose data is damaged', async () => {
      const png = Buffer.from(pngjsPng({ width: 30, height: 30, colorType: 2, rgba: (x, y) => [x * 8, y * 8, 0, 255] }));
      png.fill(0x42, 45, 70); // inside IDAT
      const error = await refusal(png);
      expect(error.code).toBe('PHOTO_UNSUPPORTED');
      expect(error.reason).toMatch(/^the PNG does not decode/);
    });

    it.each([
      ['HEIC', Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1')]), /HEIC/],
      ['GIF', Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'), /GIF/],
      ['text', Buffer.from('just some text, not an image'), /neither a JPEG nor a PNG/],
      ['empty', Buffer.alloc(0), /empty/],
    ])('refuses %s with a reason that says what to do', async (_name, bytes, reason) => {
      const error = await refusal(bytes);
      expect(error.code).toBe('PHOTO_UNSUPPORTED');
      expect(error.reason).toMatch(reason);
    });

    it('refuses a missing photo as unreadable', async () => {
      const error = await wrapPhotoAsSecondaryCapture(join(work, 'no-such-photo.jpg'), ATTRIBUTES, join(work, 'never.dcm')).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'FILE_UNREADABLE', reason: 'the photo could not be read (it does not exist)' });
    });

    it.each([
      ['a malformed study UID', { studyInstanceUid: '1.2.03.abc' }, /study instance UID/],
      ['an empty patient ID', { patientId: ' ' }, /patient ID is empty/],
      ['a birth date that is not a date', { patientBirthDate: '1970-03-12' }, /birth date/],
      ['a name with a backslash', { patientName: 'A\\B' }, /backslash/],
      ['an accession number over 16 characters', { accessionNumber: 'A'.repeat(17) }, /accession number/],
      ['a lower-case modality', { modality: 'xc' }, /modality/],
      ['a fractional instance number', { instanceNumber: 1.5 }, /instance number/],
    ])('refuses %s without echoing the value', async (_name, change, reason) => {
      const error = await refusal(jpegJs(8, 8, () => RED), { ...ATTRIBUTES, ...change } as SecondaryCaptureAttributes);
      expect(error.code).toBe('INVALID_REQUEST');
      expect(error.reason).toMatch(reason);
      for (const value of Object.values(change)) expect(error.reason).not.toContain(String(value).trim() || '\u0000');
    });
  });
});
