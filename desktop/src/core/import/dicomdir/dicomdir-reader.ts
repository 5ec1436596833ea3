import {
  TAG, dataSetEncoding, readInstance, trimText,
  type DicomReadProblem, type HeaderReader, type ItemListener,
} from '@relaypacs/dicom';

/**
 * Reads the directory records of a DICOMDIR (the Basic Directory IOD, PS3.3 F.3) with the DICOM
 * core every other reader uses, so a DICOMDIR is parsed by the same rules as the images it lists.
 *
 * The core walks the file in bounded reads and hands over each item of the Directory Record
 * Sequence (0004,1220) with only the three attributes an import needs, so a DICOMDIR listing
 * 200 000 images costs one short array per file, not its own bytes nor a tree of element objects.
 * Everything else (nested sequences, icon images, private elements) is stepped over by its length.
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

/** The three attributes of a directory record an import needs (PS3.3 F.3.2.2). */
const RECORD_ATTRIBUTES: ReadonlySet<number> = new Set([TAG.DirectoryRecordType, TAG.ReferencedFileID, TAG.RecordInUseFlag]);

/** How the core's reasons are introduced, by problem; the core's reason (tags, offsets, sizes) follows. */
const PROBLEM_PREFIX: Readonly<Record<DicomReadProblem, string>> = {
  NOT_PART10: 'the DICOMDIR is not a DICOM file',
  BAD_META_HEADER: 'the DICOMDIR has a damaged file meta header',
  MALFORMED: 'the DICOMDIR is damaged',
  TRUNCATED: 'the DICOMDIR is cut short',
  HEADER_TOO_LARGE: 'the DICOMDIR is too large to read',
  MISSING_IDENTITY: 'the DICOMDIR is damaged',
};

/**
 * Reads a whole DICOMDIR of `size` bytes through `readBytes`. Throws DicomdirFormatError when the
 * bytes are not a DICOMDIR, or end early: the caller then falls back to scanning the folder, so a
 * partly read directory is never used (it would silently leave out the files listed after the
 * damage). Rejects with the reader's own error when reading fails (I/O).
 */
export async function readDirectoryRecords(readBytes: HeaderReader, size: number): Promise<DirectoryContents> {
  const fileRecords: DirectoryRecord[] = [];
  const items: ItemListener = {
    sequence: TAG.DirectoryRecordSequence,
    keep: RECORD_ATTRIBUTES,
    onItem(values) {
      const record = fileRecord(values);
      if (record) fileRecords.push(record);
    },
  };
  const read = await readInstance(readBytes, size, {
    // PS3.10 §7.1, §8.6: a DICOMDIR is a Part 10 file; it has no SOP instance a PACS stores.
    bareDataSet: 'refuse',
    kind: 'directory',
    items,
    // The whole DICOMDIR is header (no Pixel Data ends the walk early), so the read budget must
    // cover all of it. Each byte is read once, and again only where a read ended inside an element
    // header (a few bytes per read): twice the size leaves ample room. Memory stays at one read.
    maxHeaderBytes: 2 * size + 64 * 1024,
  });
  if (!read.ok) {
    throw new DicomdirFormatError(read.code === 'TRUNCATED' ? 'FILE_TRUNCATED' : 'FILE_NOT_DICOM', `${PROBLEM_PREFIX[read.code]}: ${read.reason}`);
  }
  // PS3.10 §8.6 asks for explicit VR little endian; implicit VR (older writers) and the other
  // little endian syntaxes cost nothing to read. Big endian, retired (PS3.5 Annex A.3), is refused.
  if (!dataSetEncoding(read.transferSyntaxUid).littleEndian) {
    throw new DicomdirFormatError('FILE_NOT_DICOM', 'the DICOMDIR is encoded in a big endian transfer syntax; PS3.10 §8.6 requires explicit VR little endian');
  }
  // The content decides, not the Media Storage SOP Class in the meta header (which some tools
  // rewrite): a data set with a Directory Record Sequence is read as a directory.
  if (read.facts.itemCount === undefined) {
    throw new DicomdirFormatError('FILE_NOT_DICOM', read.meta?.mediaStorageSopClassUid !== MEDIA_STORAGE_DIRECTORY_SOP_CLASS
      ? 'the file named DICOMDIR is a DICOM object of another kind, not a media directory'
      : 'the DICOMDIR has no Directory Record Sequence (0004,1220)');
  }
  return { recordCount: read.facts.itemCount, fileRecords };
}

/** The record's referenced file, if it has one and is in use (PS3.3 F.3.2.2). */
function fileRecord(values: ReadonlyMap<number, Buffer>): DirectoryRecord | undefined {
  const fileIdValue = values.get(TAG.ReferencedFileID);
  if (!fileIdValue) return undefined;
  // Record In-use Flag (retired, PS3.3 F.3.2.2 in older editions): 0000H marks a deleted record.
  // Read as bytes: 0000H is the same in either byte order.
  const inUse = values.get(TAG.RecordInUseFlag);
  if (inUse?.length === 2 && inUse[0] === 0 && inUse[1] === 0) return undefined;
  // CS values of the default repertoire (PS3.10 §8.2), one path component per value.
  const fileId = fileIdValue.toString('latin1').split('\\').map(trimText);
  if (!fileId.some((part) => part !== '')) return undefined;
  return { type: trimText(values.get(TAG.DirectoryRecordType)?.toString('latin1') ?? ''), fileId };
}
