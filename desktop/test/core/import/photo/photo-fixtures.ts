// Photos for the Secondary Capture tests, made on the spot. JPEGs come from two independent
// encoders: jpeg-js (baseline 4:4:4, what a simple app writes) and DCMTK's IJG-based dcmcjpeg
// (4:2:2, RGB, extended, progressive, lossless, greyscale), whose JPEG stream is taken out of the
// DICOM file it writes. PNGs come from pngjs, except palette PNGs, which pngjs cannot write: those
// are assembled chunk by chunk here (ISO/IEC 15948 §5).
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32, deflateSync } from 'node:zlib';
import dcmjs from 'dcmjs';
import { encode } from 'jpeg-js';
import { PNG } from 'pngjs';

const run = promisify(execFile);

export type Rgb = readonly [number, number, number];
export type Painter = (x: number, y: number) => Rgb;

export const RED: Rgb = [220, 30, 30];
export const BLUE: Rgb = [30, 30, 220];
/** Left half red, right half blue: easy to recognise after a turn, even through lossy JPEG. */
export const leftRedRightBlue = (width: number): Painter => (x) => (x < width / 2 ? RED : BLUE);

function rgba(width: number, height: number, paint: Painter): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = paint(x, y);
      data.set([r, g, b, 255], (y * width + x) * 4);
    }
  }
  return data;
}

/** A baseline JFIF JPEG, 4:4:4, from jpeg-js. */
export function jpegJs(width: number, height: number, paint: Painter, quality = 95): Buffer {
  return encode({ width, height, data: rgba(width, height, paint) }, quality).data;
}

/** A JPEG stream made by DCMTK's dcmcjpeg with the given options (e.g. ['+ep'] for progressive). */
export async function dcmtkJpeg(workDir: string, name: string, width: number, height: number, paint: Painter, options: string[]): Promise<Buffer> {
  const bmp = join(workDir, `${name}.bmp`);
  await writeFile(bmp, bmp24(width, height, paint));
  await run('img2dcm', ['-q', '-i', 'BMP', bmp, join(workDir, `${name}.raw.dcm`)]);
  await run('dcmcjpeg', ['-q', ...options, join(workDir, `${name}.raw.dcm`), join(workDir, `${name}.jpeg.dcm`)]);
  return firstFrame(join(workDir, `${name}.jpeg.dcm`));
}

/** The first frame of a DICOM file's Pixel Data, as dcmjs reads it (for encapsulated data: the JPEG stream). */
export async function firstFrame(dicomPath: string): Promise<Buffer> {
  const bytes = await readFile(dicomPath);
  const dict = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const frames = dict.dict['7FE00010']?.Value as ArrayBuffer[] | undefined;
  if (!frames?.[0]) throw new Error(`no pixel data in ${dicomPath}`);
  return Buffer.from(frames[0]);
}

/** A 24-bit bottom-up BMP (BITMAPINFOHEADER), the simplest input img2dcm takes. */
function bmp24(width: number, height: number, paint: Painter): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = paint(x, y);
      pixels.set([b, g, r], (height - 1 - y) * stride + x * 3);
    }
  }
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(54 + pixels.length, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(width, 18);
  header.writeInt32LE(height, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  header.writeUInt32LE(pixels.length, 34);
  return Buffer.concat([header, pixels]);
}

/** The JPEG with an APP1 Exif segment holding only an Orientation, inserted after SOI. */
export function withExifOrientation(jpeg: Buffer, orientation: number, byteOrder: 'II' | 'MM' = 'MM'): Buffer {
  const tiff = Buffer.alloc(8 + 2 + 12 + 4);
  const little = byteOrder === 'II';
  const u16 = (value: number, at: number) => (little ? tiff.writeUInt16LE(value, at) : tiff.writeUInt16BE(value, at));
  const u32 = (value: number, at: number) => (little ? tiff.writeUInt32LE(value, at) : tiff.writeUInt32BE(value, at));
  tiff.write(byteOrder, 0, 'latin1');
  u16(42, 2);
  u32(8, 4); // IFD0 right after the header
  u16(1, 8); // one entry
  u16(0x0112, 10); // Orientation
  u16(3, 12); // SHORT
  u32(1, 14); // count
  u16(orientation, 18);
  u32(0, 22); // no next IFD
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const segment = Buffer.alloc(4);
  segment.writeUInt16BE(0xffe1, 0);
  segment.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), segment, payload, jpeg.subarray(2)]);
}

export interface PngSpec {
  width: number;
  height: number;
  colorType: 0 | 2 | 4 | 6;
  bitDepth?: 8 | 16;
  /** RGBA samples, 8-bit (or 16-bit when bitDepth is 16), row by row. */
  rgba: (x: number, y: number) => readonly [number, number, number, number];
}

/** A PNG from pngjs in the given colour type and depth. */
export function pngjsPng(spec: PngSpec): Buffer {
  const png = new PNG({ width: spec.width, height: spec.height });
  const wide = spec.bitDepth === 16;
  const data = wide ? Buffer.alloc(spec.width * spec.height * 8) : png.data;
  for (let y = 0; y < spec.height; y++) {
    for (let x = 0; x < spec.width; x++) {
      const sample = spec.rgba(x, y);
      const i = (y * spec.width + x) * 4;
      // pngjs takes 16-bit input as native-endian words in the data buffer.
      for (let c = 0; c < 4; c++) {
        if (wide) data.writeUInt16LE(sample[c]!, (i + c) * 2);
        else data[i + c] = sample[c]!;
      }
    }
  }
  png.data = data;
  return PNG.sync.write(png, { colorType: spec.colorType, bitDepth: spec.bitDepth ?? 8, inputHasAlpha: true });
}

/** An 8-bit palette PNG (colour type 3) with an optional tRNS chunk, assembled by hand. */
export function palettePng(width: number, height: number, palette: readonly Rgb[], index: (x: number, y: number) => number, alphas?: readonly number[]): Buffer {
  const chunk = (type: string, body: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    const typed = Buffer.concat([Buffer.from(type, 'latin1'), body]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typed));
    return Buffer.concat([length, typed, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 3, 0, 0, 0], 8); // depth 8, palette, deflate, adaptive filtering, no interlace
  const scanlines = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) scanlines[y * (width + 1) + 1 + x] = index(x, y); // filter byte 0: none
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('PLTE', Buffer.from(palette.flat())),
    ...(alphas ? [chunk('tRNS', Buffer.from(alphas))] : []),
    chunk('IDAT', deflateSync(scanlines)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Every way a photo is stored, named: JPEG wrapped as it is (YCbCr 4:4:4 and 4:2:2, RGB, grey,
 * extended), JPEG decoded to native RGB (progressive, EXIF-turned), and PNGs decoded to native RGB,
 * MONOCHROME2 8-bit and 16-bit, from a palette and with transparency. DCMTK's are written in `workDir`.
 */
export async function everyKindOfPhoto(workDir: string): Promise<[string, Buffer][]> {
  const paint = leftRedRightBlue(40);
  return [
    ['jpeg-baseline-444', jpegJs(40, 24, paint)],
    ['jpeg-baseline-422', await dcmtkJpeg(workDir, 'b422', 40, 24, paint, ['+eb', '+s2'])],
    ['jpeg-rgb', await dcmtkJpeg(workDir, 'rgb', 40, 24, paint, ['+eb', '+cr'])],
    ['jpeg-grey', await dcmtkJpeg(workDir, 'grey', 40, 24, paint, ['+eb', '+cm'])],
    ['jpeg-extended', await dcmtkJpeg(workDir, 'ext', 40, 24, paint, ['+ee'])],
    ['jpeg-progressive', await dcmtkJpeg(workDir, 'prog', 40, 24, paint, ['+ep'])],
    ['jpeg-exif-rotated', withExifOrientation(jpegJs(40, 24, paint), 6)],
    ['png-rgb', pngjsPng({ width: 9, height: 5, colorType: 2, rgba: (x, y) => [x * 25, y * 50, 128, 255] })],
    ['png-grey-8', pngjsPng({ width: 9, height: 5, colorType: 0, rgba: (x) => [x * 25, x * 25, x * 25, 255] })],
    ['png-grey-16', pngjsPng({ width: 9, height: 5, colorType: 0, bitDepth: 16, rgba: (x) => [x * 7000, x * 7000, x * 7000, 65_535] })],
    ['png-palette', palettePng(3, 3, [[255, 0, 0], [0, 255, 0], [0, 0, 255]], (x, y) => (x + y) % 3)],
    ['png-rgba', pngjsPng({ width: 4, height: 4, colorType: 6, rgba: (x) => [0, 0, 255, x * 80] })],
  ];
}
