import type { ByteWindow } from './byte-window.js';
import { UNDEFINED_LENGTH, readElementHeader, readUidValue, tagName } from './data-element.js';
import { DicomReadError } from './read-problem.js';
import type { DataSetEncoding } from './transfer-syntax.js';
import { encodeElement, paddedText } from './element-writer.js';
import { isWellFormedUid } from './uid.js';

/** What the File Meta Information says about the data set that follows it (PS3.10 §7.1). */
export interface FileMeta {
  mediaStorageSopClassUid: string;
  mediaStorageSopInstanceUid: string;
  transferSyntaxUid: string;
  /** File offset of the first data set byte. */
  dataSetStart: number;
}

const PREAMBLE_BYTES = 128;
const GROUP_LENGTH_OFFSET = PREAMBLE_BYTES + 4;
/** (0002,0000) UL with its 4-byte value: the meta elements proper start here. */
const FIRST_META_ELEMENT = GROUP_LENGTH_OFFSET + 12;

const FILE_META_GROUP_LENGTH = 0x00020000;
const MEDIA_STORAGE_SOP_CLASS_UID = 0x00020002;
const MEDIA_STORAGE_SOP_INSTANCE_UID = 0x00020003;
const TRANSFER_SYNTAX_UID = 0x00020010;

/** The meta header is always explicit VR little endian, whatever the data set uses (PS3.10 §7.1). */
const META_ENCODING: DataSetEncoding = { explicitVr: true, littleEndian: true, deflated: false, pixelData: 'native' };

/**
 * Checks the 128-byte preamble and "DICM" prefix, then walks the File Meta Information group
 * (PS3.10 §7.1, Table 7.1-1): it must open with its group length (0002,0000), its elements must be
 * group 0002 and end exactly where that length says, and it must name the SOP class, the SOP
 * instance and the transfer syntax. The preamble's content is free (PS3.10 §7.1) and not examined.
 */
export async function readFileMeta(window: ByteWindow, size: number): Promise<FileMeta> {
  if (size === 0) throw new DicomReadError('NOT_PART10', 'the file is empty');
  if (size < GROUP_LENGTH_OFFSET) {
    throw new DicomReadError('NOT_PART10', `the file is ${size} bytes long, too short for the 128-byte preamble and the "DICM" prefix (PS3.10 §7.1)`);
  }
  const prefix = await window.peek(PREAMBLE_BYTES, 4);
  if (prefix.toString('latin1') !== 'DICM') {
    throw new DicomReadError('NOT_PART10', 'the 128-byte preamble is not followed by "DICM" (PS3.10 §7.1)');
  }
  try {
    return await readMetaGroup(window);
  } catch (error) {
    // Inside the meta header, "cannot be parsed" means the meta header is bad.
    if (error instanceof DicomReadError && error.code === 'MALFORMED') throw new DicomReadError('BAD_META_HEADER', error.reason);
    throw error;
  }
}

async function readMetaGroup(window: ByteWindow): Promise<FileMeta> {
  const first = await readElementHeader(window, GROUP_LENGTH_OFFSET, META_ENCODING);
  if (!first) throw new DicomReadError('TRUNCATED', 'the file ends after the "DICM" prefix, at byte 132');
  if (first.tag !== FILE_META_GROUP_LENGTH || first.vr !== 'UL' || first.length !== 4) {
    throw new DicomReadError('BAD_META_HEADER', 'the file meta header does not start with its group length (0002,0000) (PS3.10 §7.1)');
  }
  const value = await window.peek(GROUP_LENGTH_OFFSET + 8, 4);
  if (value.length < 4) throw new DicomReadError('TRUNCATED', `the file ends inside the file meta header's group length, at byte ${GROUP_LENGTH_OFFSET + 8}`);
  const end = FIRST_META_ELEMENT + value.readUInt32LE(0);

  const uids = new Map<number, string>();
  let offset = FIRST_META_ELEMENT;
  while (offset < end) {
    const header = await readElementHeader(window, offset, META_ENCODING);
    if (!header) throw new DicomReadError('TRUNCATED', `the file ends inside the file meta header, at byte ${offset}`);
    if (header.group !== 0x0002) {
      // Walking by the group length ran into the data set: the length is larger than the group.
      throw new DicomReadError('BAD_META_HEADER', 'the meta group length (0002,0000) is larger than the file meta elements');
    }
    if (header.length === UNDEFINED_LENGTH) {
      throw new DicomReadError('BAD_META_HEADER', `file meta element ${tagName(header.tag)} has an undefined length`);
    }
    const valueStart = offset + header.headerBytes;
    const valueEnd = valueStart + header.length;
    if (valueEnd > end) {
      throw new DicomReadError('BAD_META_HEADER', `file meta element ${tagName(header.tag)} runs past the meta group length (0002,0000)`);
    }
    if (window.length !== undefined && valueEnd > window.length) {
      throw new DicomReadError('TRUNCATED', `the file ends inside file meta element ${tagName(header.tag)}, whose value starts at byte ${valueStart}`);
    }
    if (header.tag === MEDIA_STORAGE_SOP_CLASS_UID || header.tag === MEDIA_STORAGE_SOP_INSTANCE_UID || header.tag === TRANSFER_SYNTAX_UID) {
      if (uids.has(header.tag)) throw new DicomReadError('BAD_META_HEADER', `file meta element ${tagName(header.tag)} appears twice`);
      uids.set(header.tag, await readUidValue(window, header, valueStart));
    }
    offset = valueEnd;
  }

  const transferSyntaxUid = uids.get(TRANSFER_SYNTAX_UID);
  if (!transferSyntaxUid) throw new DicomReadError('BAD_META_HEADER', 'the file meta header has no Transfer Syntax UID (0002,0010)');
  if (!isWellFormedUid(transferSyntaxUid)) throw new DicomReadError('BAD_META_HEADER', 'the Transfer Syntax UID (0002,0010) is not a valid UID');
  const mediaStorageSopClassUid = uids.get(MEDIA_STORAGE_SOP_CLASS_UID);
  if (!mediaStorageSopClassUid) throw new DicomReadError('BAD_META_HEADER', 'the file meta header has no Media Storage SOP Class UID (0002,0002)');
  const mediaStorageSopInstanceUid = uids.get(MEDIA_STORAGE_SOP_INSTANCE_UID);
  if (!mediaStorageSopInstanceUid) throw new DicomReadError('BAD_META_HEADER', 'the file meta header has no Media Storage SOP Instance UID (0002,0003)');
  return { mediaStorageSopClassUid, mediaStorageSopInstanceUid, transferSyntaxUid, dataSetStart: end };
}

/** What a File Meta Information header built for a data set names (PS3.10 §7.1, Table 7.1-1). */
export interface FileMetaFields {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  implementationClassUid: string;
  implementationVersionName: string;
  /** Source Application Entity Title (0002,0016): the AE that wrote the file, e.g. the workstation's. */
  sourceAeTitle?: string;
}

/**
 * The 128-byte preamble (zeros), "DICM" and the File Meta Information group, in explicit VR little
 * endian as PS3.10 §7.1 requires: followed by a data set's bytes, unchanged, it makes a Part 10
 * file. UI values are padded with NUL, text with a space, to even length (PS3.5 §6.2); the group
 * length covers every element after it.
 */
export function encodeFileMeta(fields: FileMetaFields): Buffer {
  const elements = [
    encodeElement(0x00020001, 'OB', Buffer.from([0x00, 0x01])),
    encodeElement(MEDIA_STORAGE_SOP_CLASS_UID, 'UI', paddedText(fields.sopClassUid, 'UI')),
    encodeElement(MEDIA_STORAGE_SOP_INSTANCE_UID, 'UI', paddedText(fields.sopInstanceUid, 'UI')),
    encodeElement(TRANSFER_SYNTAX_UID, 'UI', paddedText(fields.transferSyntaxUid, 'UI')),
    encodeElement(0x00020012, 'UI', paddedText(fields.implementationClassUid, 'UI')),
    encodeElement(0x00020013, 'SH', paddedText(fields.implementationVersionName.slice(0, 16), 'SH')),
    ...(fields.sourceAeTitle ? [encodeElement(0x00020016, 'AE', paddedText(fields.sourceAeTitle.slice(0, 16), 'AE'))] : []),
  ];
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(elements.reduce((sum, e) => sum + e.length, 0));
  return Buffer.concat([Buffer.alloc(PREAMBLE_BYTES), Buffer.from('DICM', 'latin1'), encodeElement(FILE_META_GROUP_LENGTH, 'UL', groupLength), ...elements]);
}
