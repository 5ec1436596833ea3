import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  TAG, UNDEFINED_LENGTH_VALUE, encodeElement, encodeElementHeader, encodeFileMeta, encodeItemHeader, paddedText, tagName,
  type ValueRepresentation,
} from '@relaypacs/dicom';
import { RELAYPACS_IMPLEMENTATION_CLASS_UID, RELAYPACS_IMPLEMENTATION_VERSION } from './dicom-uid.js';

export type PixelData =
  /** Native samples (PS3.5 §8.1.1): OB for 8-bit, OW for 16-bit. */
  | { encapsulated: false; vr: 'OB' | 'OW'; bytes: Buffer }
  /** One compressed frame, encapsulated (PS3.5 §8.2, A.4). */
  | { encapsulated: true; bytes: Buffer };

/**
 * One attribute to write. `value`: a string is one value ('' is present and empty, as a Type 2
 * attribute without a value must be, PS3.5 §7.4.3); a list is several, joined by backslash (PS3.5
 * §6.4); a number is written as its VR says: 16 bits for US, a decimal string for IS and DS.
 */
export interface DataElement {
  tag: number;
  vr: ValueRepresentation;
  value: string | readonly string[] | number;
}

export interface Part10Content {
  /**
   * Every attribute except SOP Class and Instance UIDs, Specific Character Set and Pixel Data,
   * which the writer adds; in any order.
   */
  elements: readonly DataElement[];
  sopClassUid: string;
  sopInstanceUid: string;
  /** Explicit VR little endian, or an encapsulated syntax whose data set is explicit VR LE too. */
  transferSyntaxUid: string;
  pixelData: PixelData;
}

/** VRs whose values are text, and so follow the Specific Character Set (PS3.5 §6.1.2.2). */
const CHARACTER_SET_VRS: ReadonlySet<ValueRepresentation> = new Set(['SH', 'LO', 'ST', 'LT', 'UT', 'UC', 'PN']);

/**
 * Writes a DICOM Part 10 file (PS3.10 §7): the preamble and File Meta Information, then the data
 * set in explicit VR little endian (PS3.5 §7.1.2) with its elements in ascending tag order (PS3.5
 * §7.1), then Pixel Data (7FE0,0010), the last element, written straight from the photo's buffer
 * and encapsulated exactly as PS3.5 A.4 asks. The file appears under `outPath` only when complete
 * and flushed: a temporary name in the same folder, then rename.
 */
export async function writePart10File(outPath: string, content: Part10Content): Promise<void> {
  const meta = encodeFileMeta({
    sopClassUid: content.sopClassUid,
    sopInstanceUid: content.sopInstanceUid,
    transferSyntaxUid: content.transferSyntaxUid,
    implementationClassUid: RELAYPACS_IMPLEMENTATION_CLASS_UID,
    implementationVersionName: RELAYPACS_IMPLEMENTATION_VERSION,
  });
  const chunks = [meta, encodeDataSet(content), ...pixelDataElement(content.pixelData)];

  const temporary = join(dirname(outPath), `.${basename(outPath)}.${randomBytes(6).toString('hex')}.partial`);
  const handle = await open(temporary, 'wx');
  try {
    try {
      for (const chunk of chunks) {
        // write() may take less than asked: go on until the whole chunk is down.
        for (let offset = 0; offset < chunk.length; ) offset += (await handle.write(chunk, offset)).bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, outPath);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * The attributes before Pixel Data, explicit VR little endian, sorted by tag (PS3.5 §7.1). Text is
 * written in the default repertoire (ASCII) when every value fits it; otherwise in UTF-8, declared
 * by Specific Character Set (0008,0005) "ISO_IR 192" (PS3.3 C.12.1.1.2), which then applies to
 * every text value of the data set.
 */
function encodeDataSet(content: Part10Content): Buffer {
  const elements: DataElement[] = [
    ...content.elements,
    { tag: TAG.SOPClassUID, vr: 'UI', value: content.sopClassUid },
    { tag: TAG.SOPInstanceUID, vr: 'UI', value: content.sopInstanceUid },
  ];
  const utf8 = elements.some((element) => CHARACTER_SET_VRS.has(element.vr) && OUTSIDE_ASCII.test(textOf(element.value)));
  if (utf8) elements.push({ tag: TAG.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' });
  elements.sort((a, b) => a.tag - b.tag);
  for (let i = 1; i < elements.length; i++) {
    // PS3.5 §7.1: a data set holds each attribute once.
    if (elements[i]!.tag === elements[i - 1]!.tag) throw new Error(`attribute ${tagName(elements[i]!.tag)} is given twice`);
  }
  return Buffer.concat(elements.map((element) => encodeElement(element.tag, element.vr, encodeValue(element, utf8 ? 'utf8' : 'latin1'))));
}

function encodeValue(element: DataElement, text: 'latin1' | 'utf8'): Buffer {
  if (element.vr === 'US') {
    const { value } = element;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff) {
      throw new RangeError(`attribute ${tagName(element.tag)} is US and needs a whole number from 0 to 65535`);
    }
    const bytes = Buffer.alloc(2);
    bytes.writeUInt16LE(value);
    return bytes;
  }
  return paddedText(textOf(element.value), element.vr, CHARACTER_SET_VRS.has(element.vr) ? text : 'latin1');
}

/** A string value as written: several values joined by backslash (PS3.5 §6.4), numbers in decimal (IS, DS). */
function textOf(value: DataElement['value']): string {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' ? value : value.join('\\');
}

/** Printable ASCII is the default repertoire's text (PS3.5 §6.1.2.1); anything else needs a declared character set. */
const OUTSIDE_ASCII = /[^\x20-\x7e]/;

/** The Pixel Data element in explicit VR little endian, value padded to even length (PS3.5 §7.1.1). */
function pixelDataElement(pixelData: PixelData): Buffer[] {
  const padding = pixelData.bytes.length % 2 === 1 ? [Buffer.alloc(1)] : [];
  if (!pixelData.encapsulated) {
    return [encodeElementHeader(TAG.PixelData, pixelData.vr, pixelData.bytes.length + padding.length), pixelData.bytes, ...padding];
  }
  // PS3.5 A.4: OB with undefined length; an empty Basic Offset Table item (allowed for a single
  // frame); the frame as one fragment item of even length, a JPEG stream padded after EOI with
  // one 00H; then the Sequence Delimitation Item.
  return [
    encodeElementHeader(TAG.PixelData, 'OB', UNDEFINED_LENGTH_VALUE),
    encodeItemHeader(TAG.Item, 0),
    encodeItemHeader(TAG.Item, pixelData.bytes.length + padding.length),
    pixelData.bytes,
    ...padding,
    encodeItemHeader(TAG.SequenceDelimitationItem, 0),
  ];
}
