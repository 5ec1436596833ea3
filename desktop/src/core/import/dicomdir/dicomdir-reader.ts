/**
 * Reads the directory records of a DICOMDIR (the Basic Directory IOD, PS3.3 F.3) from its bytes.
 *
 * A small purpose-built walker rather than a general parser: it keeps only the three attributes of
 * each record that an import needs, so a DICOMDIR listing 200 000 images costs its own bytes plus
 * one short array per file, not a tree of element objects. Everything else (nested sequences,
 * icon images, private elements) is stepped over by its length.
 */

/** One directory record (an item of (0004,1220)) that references a file. */
export interface DirectoryRecord {
  /** Directory Record Type (0004,1430): IMAGE, SR DOCUMENT, PRESENTATION, ... */
  type: string;
  /** Referenced File ID (0004,1500): path components relative to the DICOMDIR's folder (PS3.10 §8.2). */
  fileId: string[];
}

export interface DirectoryContents {
  /** Every record in the sequence, including PATIENT / STUDY / SERIES records that reference no file. */
  recordCount: number;
  /** Records in use that reference a file, in the order they appear. */
  fileRecords: DirectoryRecord[];
}

/** Why the bytes are not a usable DICOMDIR; `code` is the stable error code it maps to. */
export class DicomdirFormatError extends Error {
  constructor(
    readonly code: 'FILE_NOT_DICOM' | 'FILE_TRUNCATED',
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'DicomdirFormatError';
  }
}

const MEDIA_STORAGE_DIRECTORY_SOP_CLASS = '1.2.840.10008.1.3.10';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const UNDEFINED_LENGTH = 0xffffffff;
/** VRs with a 2-byte reserved field and a 32-bit length in explicit VR (PS3.5 §7.1.2, Table 7.1-1). */
const LONG_LENGTH_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

const ITEM = 0xfffee000;
const ITEM_DELIMITATION = 0xfffee00d;
const SEQUENCE_DELIMITATION = 0xfffee0dd;
const DIRECTORY_RECORD_SEQUENCE = 0x00041220;
const RECORD_IN_USE_FLAG = 0x00041410;
const DIRECTORY_RECORD_TYPE = 0x00041430;
const REFERENCED_FILE_ID = 0x00041500;

interface ElementHeader {
  tag: number;
  vr: string | undefined;
  length: number;
  valueStart: number;
}

/**
 * Parses a whole DICOMDIR file. Throws DicomdirFormatError when the bytes are not a DICOMDIR, or
 * end early: the caller then falls back to scanning the folder, so a partly read directory is
 * never used (it would silently leave out the files listed after the damage).
 */
export function readDirectoryRecords(bytes: Buffer): DirectoryContents {
  // PS3.10 §7.1: 128-byte preamble, "DICM", then File Meta Information in explicit VR LE.
  if (bytes.length < 132) throw new DicomdirFormatError(bytes.length === 0 ? 'FILE_NOT_DICOM' : 'FILE_TRUNCATED', 'the DICOMDIR is too short to be a DICOM file');
  if (bytes.toString('latin1', 128, 132) !== 'DICM') throw new DicomdirFormatError('FILE_NOT_DICOM', 'the DICOMDIR has no DICOM preamble ("DICM" at byte 128)');

  let position = 132;
  let sopClass: string | undefined;
  let transferSyntax: string | undefined;
  while (position + 4 <= bytes.length && bytes.readUInt16LE(position) === 0x0002) {
    const header = readElementHeader(bytes, position, true);
    const end = valueEnd(bytes, header);
    if (header.tag === 0x00020002) sopClass = textValue(bytes, header.valueStart, end);
    if (header.tag === 0x00020010) transferSyntax = textValue(bytes, header.valueStart, end);
    position = end;
  }
  // PS3.10 §8.6 requires explicit VR little endian; implicit VR is accepted too because some
  // older writers used it and reading it costs nothing here. Big endian is refused.
  const explicit = transferSyntax === undefined || transferSyntax === EXPLICIT_LE;
  if (!explicit && transferSyntax !== IMPLICIT_LE) {
    throw new DicomdirFormatError('FILE_NOT_DICOM', 'the DICOMDIR is encoded in a transfer syntax other than little endian');
  }

  const contents: DirectoryContents = { recordCount: 0, fileRecords: [] };
  let sawSequence = false;
  while (position < bytes.length) {
    const header = readElementHeader(bytes, position, explicit);
    if (header.tag === DIRECTORY_RECORD_SEQUENCE) {
      sawSequence = true;
      position = readRecordSequence(bytes, header, explicit, contents);
    } else {
      position = skipValue(bytes, header, explicit);
    }
  }
  // The content decides, not the Media Storage SOP Class in the meta header (which some tools
  // rewrite): a data set with a Directory Record Sequence is read as a directory.
  if (!sawSequence) {
    throw new DicomdirFormatError('FILE_NOT_DICOM', sopClass !== undefined && sopClass !== MEDIA_STORAGE_DIRECTORY_SOP_CLASS
      ? 'the file named DICOMDIR is a DICOM object of another kind, not a media directory'
      : 'the DICOMDIR has no Directory Record Sequence (0004,1220)');
  }
  return contents;
}

/** Reads the items of (0004,1220); each item is one directory record (PS3.3 F.3.2.2). */
function readRecordSequence(bytes: Buffer, sequence: ElementHeader, explicit: boolean, contents: DirectoryContents): number {
  const definedEnd = sequence.length === UNDEFINED_LENGTH ? undefined : valueEnd(bytes, sequence);
  let position = sequence.valueStart;
  for (;;) {
    if (definedEnd !== undefined && position >= definedEnd) return definedEnd;
    const item = readElementHeader(bytes, position, false);
    if (item.tag === SEQUENCE_DELIMITATION) return item.valueStart;
    if (item.tag !== ITEM) throw new DicomdirFormatError('FILE_NOT_DICOM', 'the Directory Record Sequence contains something other than items');
    contents.recordCount++;
    let type = '';
    let fileId: string[] | undefined;
    let inUse = true;
    const itemEnd = item.length === UNDEFINED_LENGTH ? undefined : valueEnd(bytes, item);
    position = item.valueStart;
    for (;;) {
      if (itemEnd !== undefined && position >= itemEnd) break;
      const element = readElementHeader(bytes, position, explicit);
      if (element.tag === ITEM_DELIMITATION) {
        position = element.valueStart;
        break;
      }
      if (element.tag === DIRECTORY_RECORD_TYPE) type = textValue(bytes, element.valueStart, valueEnd(bytes, element));
      else if (element.tag === REFERENCED_FILE_ID) fileId = textValue(bytes, element.valueStart, valueEnd(bytes, element)).split('\\').map((part) => part.trim());
      // Record In-use Flag (retired, PS3.3 F.3.2.2 in older editions): 0000H marks a deleted record.
      else if (element.tag === RECORD_IN_USE_FLAG && element.length === 2) {
        valueEnd(bytes, element);
        inUse = bytes.readUInt16LE(element.valueStart) !== 0;
      }
      position = skipValue(bytes, element, explicit);
    }
    if (itemEnd !== undefined) position = itemEnd;
    if (inUse && fileId !== undefined && fileId.some((part) => part !== '')) contents.fileRecords.push({ type, fileId });
  }
}

function readElementHeader(bytes: Buffer, position: number, explicit: boolean): ElementHeader {
  need(bytes, position + 8);
  const tag = ((bytes.readUInt16LE(position) << 16) | bytes.readUInt16LE(position + 2)) >>> 0;
  // Item and delimitation tags carry no VR in either syntax (PS3.5 §7.5).
  if (tag >>> 16 === 0xfffe || !explicit) return { tag, vr: undefined, length: bytes.readUInt32LE(position + 4), valueStart: position + 8 };
  const vr = bytes.toString('latin1', position + 4, position + 6);
  if (!/^[A-Z]{2}$/.test(vr)) throw new DicomdirFormatError('FILE_NOT_DICOM', 'the DICOMDIR contains an element with an invalid value representation');
  if (LONG_LENGTH_VRS.has(vr)) {
    need(bytes, position + 12);
    return { tag, vr, length: bytes.readUInt32LE(position + 8), valueStart: position + 12 };
  }
  return { tag, vr, length: bytes.readUInt16LE(position + 6), valueStart: position + 8 };
}

/** Position after an element's value, whatever its length form. */
function skipValue(bytes: Buffer, header: ElementHeader, explicit: boolean): number {
  if (header.length !== UNDEFINED_LENGTH) return valueEnd(bytes, header);
  // Undefined length: a sequence, or encapsulated/UN data made of items (PS3.5 §7.5, A.4, §6.2.2).
  // The content of an undefined-length UN is implicit VR little endian.
  const inner = header.vr === 'UN' ? false : explicit;
  let position = header.valueStart;
  for (;;) {
    const item = readElementHeader(bytes, position, false);
    if (item.tag === SEQUENCE_DELIMITATION) return item.valueStart;
    if (item.tag !== ITEM) throw new DicomdirFormatError('FILE_NOT_DICOM', 'a sequence in the DICOMDIR contains something other than items');
    if (item.length !== UNDEFINED_LENGTH) {
      position = valueEnd(bytes, item);
      continue;
    }
    position = item.valueStart;
    for (;;) {
      const element = readElementHeader(bytes, position, inner);
      if (element.tag === ITEM_DELIMITATION) {
        position = element.valueStart;
        break;
      }
      position = skipValue(bytes, element, inner);
    }
  }
}

function valueEnd(bytes: Buffer, header: ElementHeader): number {
  if (header.length === UNDEFINED_LENGTH) throw new DicomdirFormatError('FILE_NOT_DICOM', 'the DICOMDIR has an undefined length where a value was expected');
  const end = header.valueStart + header.length;
  need(bytes, end);
  return end;
}

function need(bytes: Buffer, end: number): void {
  if (end > bytes.length) throw new DicomdirFormatError('FILE_TRUNCATED', 'the DICOMDIR ends in the middle of an element');
}

/** A CS/UI value without its padding (PS3.5 §6.2: trailing space for text, NUL for UIDs). */
function textValue(bytes: Buffer, start: number, end: number): string {
  return bytes.toString('latin1', start, end).replace(/[\0 ]+$/, '').replace(/^ +/, '');
}
