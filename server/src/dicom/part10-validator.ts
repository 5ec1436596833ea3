import type { InstanceRejectionCode } from '../protocol/error-codes.js';
import { ReadBudget, StoredBytes, type HeaderReader } from './byte-source.js';
import { ByteWindow } from './byte-window.js';
import { walkDataSet, type DataSetFacts } from './data-set-walker.js';
import { readFileMeta, type FileMeta } from './file-meta.js';
import { HeaderRejection, StorageReadFailure } from './header-rejection.js';
import { ANY_SOP_CLASS } from './sop-classes.js';
import { InflatedBytes } from './inflated-bytes.js';
import { dataSetEncoding } from './transfer-syntax.js';
import { isWellFormedUid, normalizeUid } from './uid.js';

export type { HeaderReader } from './byte-source.js';

/** What the upload declared for one instance, and what this relay accepts. */
export interface InstanceExpectations {
  studyInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  allowedSopClasses: ReadonlySet<string>;
}

export type ValidationResult =
  | { ok: true; transferSyntaxUid: string; sopClassUid: string; sopInstanceUid: string; studyInstanceUid: string }
  | { ok: false; code: InstanceRejectionCode; reason: string };

export interface ValidationLimits {
  /**
   * Most bytes one validation may read from storage, and separately inflate for a deflated data
   * set, before reaching Pixel Data or the end of the data set. Skipped values (pixel data, an
   * encapsulated PDF) are not read and do not count, except inside a deflate stream.
   */
  maxHeaderBytes?: number;
  /** Size of the first read; later reads double while the walk stays contiguous. */
  firstReadBytes?: number;
}

export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024 * 1024;
export const DEFAULT_FIRST_READ_BYTES = 64 * 1024;
/** The largest single read once reads have grown (memory held at any time is about this much). */
const MAX_READ_BYTES = 1024 * 1024;

/**
 * Validates one stored instance as DICOM Part 10 (PS3.10 §7): preamble and "DICM", the File Meta
 * Information, then the data set header in its transfer syntax up to Pixel Data, which is never
 * read. The instance must name the study of the upload and the SOP instance and class of its
 * manifest entry, its meta header must agree with its data set, and its SOP class must be allowed.
 *
 * Reads through `readHeader` in growing, bounded ranges, so a 4 GB instance costs what a small one
 * does. Bad input of any kind resolves `{ ok: false }` with a code and a reason that names tags and
 * sizes but never attribute values (no PHI). It rejects only when `readHeader` does (I/O), with
 * that error, or when `size` is not a byte count.
 */
export async function validatePart10(
  readHeader: HeaderReader,
  size: number,
  expected: InstanceExpectations,
  limits: ValidationLimits = {},
): Promise<ValidationResult> {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size must be a byte count, got ${size}`);
  const maxHeaderBytes = limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const firstReadBytes = limits.firstReadBytes ?? DEFAULT_FIRST_READ_BYTES;
  let inflated: InflatedBytes | undefined;
  try {
    const budget = new ReadBudget(maxHeaderBytes);
    const file = new ByteWindow(new StoredBytes(readHeader, 0, size, budget), firstReadBytes, MAX_READ_BYTES);
    const meta = await readFileMeta(file, size);
    const encoding = dataSetEncoding(meta.transferSyntaxUid);
    let facts: DataSetFacts;
    if (encoding.deflated) {
      const compressed = new StoredBytes(readHeader, meta.dataSetStart, size - meta.dataSetStart, budget);
      inflated = new InflatedBytes(compressed, new ReadBudget(maxHeaderBytes));
      facts = await walkDataSet(new ByteWindow(inflated, firstReadBytes, MAX_READ_BYTES), 0, encoding, ' of the inflated data set');
      // Whole elements up to where the inflater stopped, but the deflate stream itself was cut.
      if (facts.endedBy === 'end-of-data' && inflated.cutShort) {
        return { ok: false, code: 'TRUNCATED', reason: `the deflated data set ends before its deflate stream does: the file is cut short at byte ${size}` };
      }
    } else {
      facts = await walkDataSet(file, meta.dataSetStart, encoding);
    }
    return judge(meta, facts, expected);
  } catch (error) {
    if (error instanceof HeaderRejection) return { ok: false, code: error.code, reason: error.reason };
    if (error instanceof StorageReadFailure) throw error.cause;
    // A parser bug must not turn a bad file into a 500 either; the wording makes it findable in logs.
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
    return { ok: false, code: 'MALFORMED', reason: `the header could not be parsed (internal parser error, ${detail})` };
  } finally {
    inflated?.close();
  }
}

/** The checks on what was parsed, in the order an uploader can best act on. */
function judge(meta: FileMeta, facts: DataSetFacts, expected: InstanceExpectations): ValidationResult {
  const reject = (code: InstanceRejectionCode, reason: string): ValidationResult => ({ ok: false, code, reason });
  const { sopClassUid, sopInstanceUid, studyInstanceUid } = facts;
  // A data set that ends at an element boundary is a whole data set: whether it lacks an attribute
  // or was cut between two elements cannot be told from the bytes, and a PACS stores it as it is
  // (Orthanc does). So an object without Pixel Data (an SR, a PDF, a presentation state, or an image
  // written without pixels) is accepted; "truncated" is kept for a value or item cut short, which the
  // walk reports with its offset and tag. What the relay needs to store and route an instance by
  // UID must be there.
  if (!sopInstanceUid) return reject('SOP_INSTANCE_UID_MISMATCH', 'the data set has no SOP Instance UID (0008,0018), so no PACS can store it');
  if (!sopClassUid) return reject('SOP_CLASS_MISMATCH', 'the data set has no SOP Class UID (0008,0016), so no PACS can store it');
  if (!studyInstanceUid) return reject('STUDY_UID_MISMATCH', 'the data set has no Study Instance UID (0020,000D), so it belongs to no study');
  // PS3.10 §7.1, Table 7.1-1: the meta header identifies the SOP instance and class of the data set it precedes.
  if (meta.mediaStorageSopInstanceUid !== sopInstanceUid) {
    return reject('BAD_META_HEADER', 'the Media Storage SOP Instance UID (0002,0003) differs from the SOP Instance UID (0008,0018) of the data set');
  }
  if (meta.mediaStorageSopClassUid !== sopClassUid) {
    return reject('BAD_META_HEADER', 'the Media Storage SOP Class UID (0002,0002) differs from the SOP Class UID (0008,0016) of the data set');
  }
  // Instance and study UIDs identify a patient's study: reasons say that they differ, never what they are.
  if (sopInstanceUid !== normalizeUid(expected.sopInstanceUid)) {
    return reject('SOP_INSTANCE_UID_MISMATCH', 'the SOP Instance UID (0008,0018) in the file differs from the one in the manifest');
  }
  if (studyInstanceUid !== normalizeUid(expected.studyInstanceUid)) {
    return reject('STUDY_UID_MISMATCH', 'the Study Instance UID (0020,000D) in the file differs from the upload\'s');
  }
  // A SOP class UID names a kind of object, not a patient, so it may be shown.
  const sopClass = isWellFormedUid(sopClassUid) ? sopClassUid : 'a malformed UID';
  if (sopClassUid !== normalizeUid(expected.sopClassUid)) {
    return reject('SOP_CLASS_MISMATCH', `the file's SOP class (${sopClass}) differs from the manifest's`);
  }
  if (!expected.allowedSopClasses.has(ANY_SOP_CLASS) && !expected.allowedSopClasses.has(sopClassUid)) {
    return reject('SOP_CLASS_NOT_ALLOWED', `SOP class ${sopClass} is not on this relay's list of accepted SOP classes`);
  }
  return { ok: true, transferSyntaxUid: meta.transferSyntaxUid, sopClassUid, sopInstanceUid, studyInstanceUid };
}
