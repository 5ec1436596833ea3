import { readExifOrientation, type ExifOrientation } from './exif-orientation.js';
import { damaged, truncated, unsupported } from './photo-errors.js';

/** The coding process a JPEG frame header (SOFn) announces (ITU-T T.81 Table B.1). */
export type JpegProcess = 'baseline' | 'extended' | 'progressive' | 'lossless' | 'hierarchical' | 'arithmetic';

export interface JpegComponent {
  id: number;
  horizontalSampling: number;
  verticalSampling: number;
}

export interface JpegStructure {
  process: JpegProcess;
  /** Sample precision P: 8 for photos, 12 for some medical JPEGs. */
  precision: number;
  rows: number;
  columns: number;
  components: JpegComponent[];
  /** An APP0 "JFIF" segment is present: the three components are then YCbCr (JFIF 1.02 §2). */
  jfif: boolean;
  /** Transform flag of an APP14 "Adobe" segment: 0 = no colour transform (RGB or CMYK), 1 = YCbCr, 2 = YCCK. */
  adobeTransform: number | undefined;
  exifOrientation: ExifOrientation | undefined;
  /** Offset just past the EOI marker: bytes after it (MPF previews, vendor trailers) are not the image. */
  end: number;
}

/** What the frame header (SOFn, T.81 B.2.2) says. */
type JpegFrame = Pick<JpegStructure, 'process' | 'precision' | 'rows' | 'columns' | 'components'>;

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const DHP = 0xde;

/**
 * Walks the marker segments of a JPEG interchange stream (ITU-T T.81 Annex B) without decoding it:
 * the frame header gives the geometry and process, APP segments the colour model and EXIF
 * orientation, and following the entropy-coded segments to EOI proves the stream is complete.
 * Throws a PhotoConversionError for a damaged, truncated or hierarchical stream.
 */
export function readJpegStructure(bytes: Buffer): JpegStructure {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== SOI) throw damaged('the JPEG does not start with a start-of-image marker');
  let frame: JpegFrame | undefined;
  let jfif = false;
  let adobeTransform: number | undefined;
  let exifOrientation: ExifOrientation | undefined;
  let position = 2;
  for (;;) {
    if (position >= bytes.length) throw truncated('the JPEG ends before its end-of-image marker');
    if (bytes[position] !== 0xff) throw damaged('the JPEG has data where a marker should be');
    // Any number of 0xFF fill bytes may precede a marker (T.81 B.1.1.2).
    while (bytes[position] === 0xff) position++;
    if (position >= bytes.length) throw truncated('the JPEG ends before its end-of-image marker');
    const marker = bytes[position++]!;
    if (marker === EOI) {
      if (!frame) throw damaged('the JPEG has no frame header');
      return { ...frame, jfif, adobeTransform, exifOrientation, end: position };
    }
    if (marker === SOI || marker === 0x00 || (marker >= 0xd0 && marker <= 0xd7)) throw damaged('the JPEG has a misplaced marker');
    if (marker === 0x01) continue; // TEM: no length
    if (position + 2 > bytes.length) throw truncated('the JPEG ends inside a marker segment');
    const length = bytes.readUInt16BE(position);
    const segmentEnd = position + length;
    if (length < 2) throw damaged('the JPEG has a marker segment with an impossible length');
    if (segmentEnd > bytes.length) throw truncated('the JPEG ends inside a marker segment');
    const segment = bytes.subarray(position + 2, segmentEnd);
    position = segmentEnd;

    if (isFrameMarker(marker)) {
      if (frame) throw unsupported('the JPEG has more than one frame (hierarchical coding), which is not supported');
      frame = readFrameHeader(marker, segment);
    } else if (marker === DHP) {
      throw unsupported('the JPEG uses hierarchical coding, which is not supported');
    } else if (marker === 0xe0 && segment.toString('latin1', 0, 5) === 'JFIF\0') {
      jfif = true;
    } else if (marker === 0xe1 && segment.toString('latin1', 0, 6) === 'Exif\0\0') {
      exifOrientation ??= readExifOrientation(segment.subarray(6));
    } else if (marker === 0xee && segment.length >= 12 && segment.toString('latin1', 0, 5) === 'Adobe') {
      adobeTransform = segment[11];
    } else if (marker === SOS) {
      if (!frame) throw damaged('the JPEG has image data before its frame header');
      position = skipEntropyCodedData(bytes, position);
    }
  }
}

/** SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range (T.81 Table B.1). */
function isFrameMarker(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function readFrameHeader(marker: number, segment: Buffer): JpegFrame {
  if (segment.length < 6) throw damaged('the JPEG frame header is too short');
  const count = segment[5]!;
  if (count === 0 || segment.length < 6 + count * 3) throw damaged('the JPEG frame header is too short for its components');
  const components: JpegComponent[] = [];
  for (let i = 0; i < count; i++) {
    const sampling = segment[7 + i * 3]!;
    const component = { id: segment[6 + i * 3]!, horizontalSampling: sampling >> 4, verticalSampling: sampling & 0x0f };
    if (component.horizontalSampling < 1 || component.horizontalSampling > 4 || component.verticalSampling < 1 || component.verticalSampling > 4) {
      throw damaged('the JPEG frame header has impossible sampling factors');
    }
    components.push(component);
  }
  const rows = segment.readUInt16BE(1);
  const columns = segment.readUInt16BE(3);
  if (columns === 0) throw damaged('the JPEG frame header gives a width of 0');
  // A height of 0 means "given later by a DNL marker" (T.81 B.2.5), which nothing here supports.
  if (rows === 0) throw unsupported('the JPEG gives its height in a DNL marker, which is not supported');
  return { process: processOf(marker), precision: segment[0]!, rows, columns, components };
}

function processOf(marker: number): JpegProcess {
  switch (marker) {
    case 0xc0: return 'baseline';
    case 0xc1: return 'extended';
    case 0xc2: return 'progressive';
    case 0xc3: return 'lossless';
    case 0xc5: case 0xc6: case 0xc7: case 0xcd: case 0xce: case 0xcf: return 'hierarchical';
    default: return 'arithmetic'; // C9, CA, CB
  }
}

/**
 * Position of the marker that ends an entropy-coded segment. Inside it, 0xFF is followed by a
 * stuffed 0x00 or a restart marker RST0-7, which belong to the data (T.81 B.1.1.5, F.1.2.3).
 */
function skipEntropyCodedData(bytes: Buffer, from: number): number {
  let position = from;
  for (;;) {
    position = bytes.indexOf(0xff, position);
    if (position < 0 || position + 1 >= bytes.length) throw truncated('the JPEG ends inside its image data');
    const next = bytes[position + 1]!;
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) {
      position += next === 0xff ? 1 : 2;
      continue;
    }
    return position;
  }
}
