import { ReadBudget, StoredBytes, type HeaderReader } from './byte-source.js';
import { ByteWindow } from './byte-window.js';
import { walkDataSet, type DataSetFacts, type ItemListener } from './data-set-walker.js';
import { readFileMeta, type FileMeta } from './file-meta.js';
import { InflatedBytes } from './inflated-bytes.js';
import { DicomReadError, ByteReadFailure, type DicomReadProblem } from './read-problem.js';
import { EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, dataSetEncoding } from './transfer-syntax.js';

export interface InstanceReadOptions {
  /**
   * A data set stored without preamble, "DICM" and File Meta Information (PS3.10 §7.1), as some
   * modalities, old media and other toolkits write: 'read' it (the transfer syntax told from its
   * first element, little endian implicit or explicit VR), or 'refuse' it as NOT_PART10.
   */
  bareDataSet: 'read' | 'refuse';
  /**
   * 'instance': the data set must carry the UIDs a PACS stores it by (PS3.4 §C.1.2.1) and agree with
   * its meta header (PS3.10 §7.1, Table 7.1-1); 'directory': neither (a DICOMDIR has no SOP instance).
   */
  kind?: 'instance' | 'directory';
  /** Top-level attributes whose values to keep (DataSetFacts.values). */
  keep?: ReadonlySet<number>;
  items?: ItemListener;
  /** Walk encapsulated fragments to their end (a file still being written is told from a whole one). */
  throughPixelData?: boolean;
  /**
   * Most bytes one read may take from the file, and separately inflate for a deflated data set,
   * before reaching Pixel Data or the end of the data set. Skipped values (pixel data, an
   * encapsulated PDF) are not read and do not count, except inside a deflate stream.
   */
  maxHeaderBytes?: number;
  /** Size of the first read; later reads double while the walk stays contiguous. */
  firstReadBytes?: number;
}

export interface InstanceRead {
  /** The File Meta Information; absent for a bare data set. */
  meta: FileMeta | undefined;
  /** From the meta header, or told from the bytes of a bare data set. */
  transferSyntaxUid: string;
  /** File offset of the first data set byte (0 for a bare data set). */
  dataSetStart: number;
  facts: DataSetFacts;
}

export type InstanceReadResult = ({ ok: true } & InstanceRead) | {
  ok: false;
  code: DicomReadProblem;
  reason: string;
  /**
   * TRUNCATED only: what had been read of the top-level data set before the cut (its UIDs, the
   * values asked for). A file still being copied usually names its study before it stops, which
   * lets a folder watcher hold that study back until the file is whole.
   */
  readBeforeCut?: DataSetFacts;
};

export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024 * 1024;
export const DEFAULT_FIRST_READ_BYTES = 64 * 1024;
/** The largest single read once reads have grown (memory held at any time is about this much). */
const MAX_READ_BYTES = 1024 * 1024;

/**
 * Reads one DICOM instance as the relay validates it and the desktop indexes it, so the two give
 * the same verdict: the Part 10 preamble and File Meta Information (or a bare data set, if
 * allowed), then the data set in its transfer syntax up to Pixel Data, which is never read. Reads
 * through `readBytes` in growing, bounded ranges, so a 4 GB instance costs what a small one does.
 *
 * Bad input of any kind resolves `{ ok: false }` with a code and a reason that names tags, offsets
 * and sizes but never attribute values (no PHI). It rejects only when `readBytes` does (I/O), with
 * that error, or when `size` is not a byte count.
 */
export async function readInstance(readBytes: HeaderReader, size: number, options: InstanceReadOptions): Promise<InstanceReadResult> {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size must be a byte count, got ${size}`);
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const firstReadBytes = options.firstReadBytes ?? DEFAULT_FIRST_READ_BYTES;
  let inflated: InflatedBytes | undefined;
  try {
    const budget = new ReadBudget(maxHeaderBytes);
    const file = new ByteWindow(new StoredBytes(readBytes, 0, size, budget), firstReadBytes, MAX_READ_BYTES);
    const { meta, transferSyntaxUid, dataSetStart } = await readPreamble(file, size, options.bareDataSet);
    const encoding = dataSetEncoding(transferSyntaxUid);
    const walk = { keep: options.keep, items: options.items, throughPixelData: options.throughPixelData };
    let facts: DataSetFacts;
    if (encoding.deflated) {
      const compressed = new StoredBytes(readBytes, dataSetStart, size - dataSetStart, budget);
      inflated = new InflatedBytes(compressed, new ReadBudget(maxHeaderBytes));
      facts = await walkDataSet(new ByteWindow(inflated, firstReadBytes, MAX_READ_BYTES), 0, encoding, { ...walk, offsetNote: ' of the inflated data set' });
      // Whole elements up to where the inflater stopped, but the deflate stream itself was cut.
      if (facts.endedBy === 'end-of-data' && inflated.cutShort) {
        return { ok: false, code: 'TRUNCATED', reason: `the deflated data set ends before its deflate stream does: the file is cut short at byte ${size}`, readBeforeCut: facts };
      }
    } else {
      facts = await walkDataSet(file, dataSetStart, encoding, walk);
    }
    if ((options.kind ?? 'instance') === 'instance') checkIdentity(meta, facts);
    return { ok: true, meta, transferSyntaxUid, dataSetStart, facts };
  } catch (error) {
    if (error instanceof DicomReadError) {
      return { ok: false, code: error.code, reason: error.reason, ...(error.readBeforeCut ? { readBeforeCut: error.readBeforeCut } : {}) };
    }
    if (error instanceof ByteReadFailure) throw error.cause;
    // A parser bug must not turn a bad file into a crash either; the wording makes it findable in logs.
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
    return { ok: false, code: 'MALFORMED', reason: `the header could not be parsed (internal parser error, ${detail})` };
  } finally {
    inflated?.close();
  }
}

async function readPreamble(file: ByteWindow, size: number, bareDataSet: 'read' | 'refuse'): Promise<{ meta: FileMeta | undefined; transferSyntaxUid: string; dataSetStart: number }> {
  const dicm = size >= 132 ? (await file.peek(128, 4)).toString('latin1') : '';
  if (dicm === 'DICM' || bareDataSet === 'refuse') {
    const meta = await readFileMeta(file, size);
    return { meta, transferSyntaxUid: meta.transferSyntaxUid, dataSetStart: meta.dataSetStart };
  }
  if (size === 0) throw new DicomReadError('NOT_PART10', 'the file is empty');
  const transferSyntaxUid = bareDataSetSyntax(await file.peek(0, 8));
  if (!transferSyntaxUid) {
    throw new DicomReadError('NOT_PART10', size < 132
      ? 'the file is too short to be DICOM'
      : 'no DICOM preamble ("DICM" at byte 128) and no DICOM data set at the start');
  }
  return { meta: undefined, transferSyntaxUid, dataSetStart: 0 };
}

/**
 * A bare data set starts with its lowest tag: a command or identifying group, usually (0008,xxxx),
 * and not the meta group 0002, which belongs behind a preamble. Explicit VR puts two capital letters
 * after the tag (PS3.5 §7.1.2), implicit VR a 32-bit length (§7.1.3), short for a first element.
 * Little endian only: big endian was retired (PS3.5 Annex A.3) and never written without a meta header.
 */
function bareDataSetSyntax(head: Buffer): string | undefined {
  if (head.length < 8) return undefined;
  const group = head.readUInt16LE(0);
  if (group < 0x0004 || group > 0x0010) return undefined;
  if (/^[A-Z]{2}$/.test(head.toString('latin1', 4, 6))) return EXPLICIT_VR_LITTLE_ENDIAN;
  return head.readUInt32LE(4) < 0x10000 ? IMPLICIT_VR_LITTLE_ENDIAN : undefined;
}

/**
 * What a PACS stores and finds an instance by must be there (PS3.4 §C.1.2.1: Study, Series and SOP
 * Instance UIDs; the SOP class names the IOD), and the meta header must name the SOP instance and
 * class of the data set it precedes (PS3.10 §7.1, Table 7.1-1). A data set that ends at an element
 * boundary is otherwise a whole data set: whether it lacks an attribute or was cut between two
 * elements cannot be told from the bytes, and a PACS stores it as it is (Orthanc does), so an object
 * without Pixel Data is accepted; "truncated" is for a value or item cut short.
 */
function checkIdentity(meta: FileMeta | undefined, facts: DataSetFacts): void {
  const missing = [
    ['SOP Instance UID (0008,0018)', facts.sopInstanceUid], ['SOP Class UID (0008,0016)', facts.sopClassUid],
    ['Study Instance UID (0020,000D)', facts.studyInstanceUid], ['Series Instance UID (0020,000E)', facts.seriesInstanceUid],
  ].filter(([, value]) => !value).map(([name]) => name);
  if (missing.length > 0) {
    throw new DicomReadError('MISSING_IDENTITY', `the data set has no ${missing.join(', ')}, so no PACS can store it`);
  }
  if (!meta) return;
  if (meta.mediaStorageSopInstanceUid !== facts.sopInstanceUid) {
    throw new DicomReadError('BAD_META_HEADER', 'the Media Storage SOP Instance UID (0002,0003) differs from the SOP Instance UID (0008,0018) of the data set');
  }
  if (meta.mediaStorageSopClassUid !== facts.sopClassUid) {
    throw new DicomReadError('BAD_META_HEADER', 'the Media Storage SOP Class UID (0002,0002) differs from the SOP Class UID (0008,0016) of the data set');
  }
}
