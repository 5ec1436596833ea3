import type { ExifOrientation } from './exif-orientation.js';
import { decodeJpeg } from './jpeg-raster.js';
import { readJpegStructure, type JpegStructure } from './jpeg-structure.js';
import type { PixelData } from './part10-writer.js';
import { unsupported } from './photo-errors.js';
import { decodePng, isPng, readPngHeader } from './png-raster.js';
import { MAX_DECODED_PIXELS, applyOrientation, type Raster } from './raster.js';

export const TRANSFER_SYNTAX = {
  explicitLittleEndian: '1.2.840.10008.1.2.1',
  /** JPEG Baseline (Process 1), PS3.5 §8.2.1, A.4.1. */
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  /** JPEG Extended (Process 2 & 4): 8-bit SOF1 streams, which Process 1 does not cover. */
  jpegExtended: '1.2.840.10008.1.2.4.51',
} as const;

/** The Image Pixel module (PS3.3 C.7.6.3) of a photo, with its Pixel Data and transfer syntax. */
export interface PhotoImage {
  transferSyntaxUid: string;
  rows: number;
  columns: number;
  samplesPerPixel: 1 | 3;
  photometricInterpretation: 'MONOCHROME2' | 'RGB' | 'YBR_FULL_422';
  bitsAllocated: 8 | 16;
  /** True when the pixels have been through lossy JPEG, which (0028,2110) must then say forever. */
  lossy: boolean;
  pixelData: PixelData;
}

/**
 * Turns the bytes of a photo into DICOM pixels, choosing by content (magic numbers), not by name.
 *
 * JPEG: an 8-bit baseline (SOF0) or extended (SOF1) stream in grey or YCbCr/RGB, with no EXIF
 * turn to apply, is wrapped as it is (encapsulated, PS3.5 A.4): no second lossy generation, and
 * the file stays as small as the photo. Otherwise it is decoded (jpeg-js) and stored as native
 * explicit VR little endian RGB or MONOCHROME2: progressive JPEGs (their transfer syntax,
 * 1.2.840.10008.1.2.4.55, is retired from PS3.5 and few PACS still decode it), CMYK/YCCK ones
 * (DICOM has no CMYK), and photos whose EXIF orientation asks for a turn or mirror (DICOM has no
 * such attribute, and a JPEG cannot in general be turned without decoding it). Native pixels
 * cost more space (3 bytes a pixel) but lose nothing more.
 * Lossless, arithmetic-coded, hierarchical and 12-bit JPEGs are refused: they are not photos.
 *
 * PNG: decoded (pngjs) and stored as native pixels; see decodePng.
 */
export function photoImage(bytes: Buffer): PhotoImage {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) return jpegImage(bytes);
  if (isPng(bytes)) return nativeImage(decodePng(bytes), false);
  throw unsupported(describeOtherFormat(bytes));
}

function jpegImage(bytes: Buffer): PhotoImage {
  const structure = readJpegStructure(bytes);
  const { photometric, orientation } = jpegPlan(structure);
  if (photometric) {
    const channels = structure.components.length as 1 | 3;
    return {
      transferSyntaxUid: structure.process === 'baseline' ? TRANSFER_SYNTAX.jpegBaseline : TRANSFER_SYNTAX.jpegExtended,
      rows: structure.rows,
      columns: structure.columns,
      samplesPerPixel: channels,
      photometricInterpretation: photometric,
      bitsAllocated: 8,
      lossy: true,
      // Only up to EOI: trailing bytes (an MPF preview image, vendor data) are not this frame.
      pixelData: { encapsulated: true, bytes: bytes.subarray(0, structure.end) },
    };
  }
  return nativeImage(applyOrientation(decodeJpeg(bytes, structure), orientation), true);
}

/**
 * The size of the image photoImage would make of these bytes (rows and columns after the EXIF
 * turn), found without decoding any pixels; throws the PhotoConversionError photoImage would throw
 * for the file's structure, format or size. Damage inside compressed data that photoImage decodes
 * (a PNG's deflate stream, a progressive JPEG's scans) shows only when it converts the photo.
 */
export function photoGeometry(bytes: Buffer): { rows: number; columns: number } {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    const structure = readJpegStructure(bytes);
    const { orientation } = jpegPlan(structure);
    // Orientations 5-8 turn the image by a quarter (raster.ts applyOrientation).
    return orientation >= 5 ? { rows: structure.columns, columns: structure.rows } : { rows: structure.rows, columns: structure.columns };
  }
  if (isPng(bytes)) {
    const { rows, columns } = readPngHeader(bytes);
    return { rows, columns };
  }
  throw unsupported(describeOtherFormat(bytes));
}

/**
 * How a JPEG becomes DICOM pixels: wrapped as it is (with this photometric interpretation) or
 * decoded and turned by `orientation`. Refuses the streams photoImage does not convert.
 */
function jpegPlan(structure: JpegStructure): { photometric: PhotoImage['photometricInterpretation'] | undefined; orientation: ExifOrientation } {
  if (structure.process === 'lossless' || structure.process === 'hierarchical' || structure.process === 'arithmetic') {
    throw unsupported(`the JPEG uses ${structure.process} coding; only baseline, extended and progressive JPEG photos are converted`);
  }
  if (structure.precision !== 8) throw unsupported(`the JPEG has ${structure.precision}-bit samples; only 8-bit photos are converted`);
  const photometric = encapsulatedPhotometric(structure);
  const orientation = structure.exifOrientation ?? 1;
  if (structure.process !== 'progressive' && photometric && orientation === 1) return { photometric, orientation };
  if (structure.components.length !== 1 && structure.components.length !== 3 && structure.components.length !== 4) {
    throw unsupported(`the JPEG has ${structure.components.length} colour components, which is not a photo format`);
  }
  if (structure.rows * structure.columns > MAX_DECODED_PIXELS) {
    throw unsupported(`the JPEG has ${Math.round((structure.rows * structure.columns) / 1e6)} megapixels, more than the ${MAX_DECODED_PIXELS / 1e6} that can be decoded for conversion`);
  }
  return { photometric: undefined, orientation };
}

/**
 * The Photometric Interpretation of a JPEG stream kept as it is (PS3.5 §8.2.1, PS3.3 C.7.6.3.1.2),
 * or undefined when it must be decoded instead. One component is MONOCHROME2. Three are RGB when
 * no colour transform was applied (Adobe APP14 transform 0, or libjpeg's "R","G","B" component
 * ids without JFIF); otherwise YCbCr, as JFIF requires, which is YBR_FULL_422 whatever the chroma
 * subsampling (4:4:4, 4:2:2 or 4:2:0): PS3.5 §8.2.1 (Table 8.2.1-1) allows only YBR_FULL_422 and
 * RGB for three-sample lossy JPEG, and PS3.3 C.7.6.3.1.2 notes that the subsampling in the JPEG bit
 * stream may differ from what YBR_FULL_422 describes (dciodvfy refuses YBR_FULL here).
 */
function encapsulatedPhotometric(structure: JpegStructure): PhotoImage['photometricInterpretation'] | undefined {
  const [luma, blue, red, ...rest] = structure.components;
  if (luma && !blue) return 'MONOCHROME2';
  if (!luma || !blue || !red || rest.length > 0) return undefined;
  const rgbIds = luma.id === 0x52 && blue.id === 0x47 && red.id === 0x42;
  if (structure.adobeTransform === 0 || (structure.adobeTransform === undefined && !structure.jfif && rgbIds)) return 'RGB';
  if (structure.adobeTransform !== undefined && structure.adobeTransform !== 1) return undefined;
  return 'YBR_FULL_422';
}

function nativeImage(raster: Raster, lossy: boolean): PhotoImage {
  return {
    transferSyntaxUid: TRANSFER_SYNTAX.explicitLittleEndian,
    rows: raster.rows,
    columns: raster.columns,
    samplesPerPixel: raster.samplesPerPixel,
    photometricInterpretation: raster.samplesPerPixel === 1 ? 'MONOCHROME2' : 'RGB',
    bitsAllocated: raster.bitsAllocated,
    lossy,
    pixelData: { encapsulated: false, vr: raster.bitsAllocated === 16 ? 'OW' : 'OB', bytes: raster.pixels },
  };
}

/** Names the formats people actually pick by mistake, so the reason says what to do. */
function describeOtherFormat(bytes: Buffer): string {
  const text = (start: number, end: number) => bytes.toString('latin1', start, end);
  if (bytes.length === 0) return 'the file is empty';
  if (bytes.length >= 132 && text(128, 132) === 'DICM') return 'the file is already DICOM; import it as a DICOM file, not as a photo';
  if (text(4, 8) === 'ftyp') {
    const brand = text(8, 12);
    if (/^(heic|heix|hevc|hevx|heim|heis|mif1|msf1)$/.test(brand)) return 'HEIC/HEIF photos are not supported; export the photo as JPEG';
    if (/^avi[fs]$/.test(brand)) return 'AVIF images are not supported; export the image as JPEG or PNG';
  }
  if (text(0, 4) === 'RIFF' && text(8, 12) === 'WEBP') return 'WebP images are not supported; save the image as JPEG or PNG';
  if (text(0, 4) === 'GIF8') return 'GIF images are not supported; save the image as PNG';
  if (text(0, 4) === 'II*\0' || text(0, 4) === 'MM\0*') return 'TIFF images are not supported; save the image as JPEG or PNG';
  if (text(0, 2) === 'BM') return 'BMP images are not supported; save the image as PNG';
  if (text(0, 5) === '%PDF-') return 'PDF documents are not converted to images; scan or save the page as JPEG or PNG';
  return 'the file is neither a JPEG nor a PNG image';
}
