import type { DataSetFacts } from './data-set-walker.js';

/**
 * Why bytes cannot be read as a DICOM instance. Stable codes (the relay puts them on its wire as
 * instance rejection codes; the desktop maps them to its own), and reasons that name tags, offsets
 * and sizes but never attribute values: a value can be a patient's name (no PHI).
 */
export type DicomReadProblem =
  /** No 128-byte preamble and "DICM" prefix where a Part 10 file was required (PS3.10 §7.1). */
  | 'NOT_PART10'
  /** The File Meta Information is missing, malformed or contradicts the data set (PS3.10 §7.1). */
  | 'BAD_META_HEADER'
  /** The data set cannot be parsed (PS3.5 §7). */
  | 'MALFORMED'
  /** A value, header, item or deflate stream is cut short. */
  | 'TRUNCATED'
  /** More than the read budget had to be read before Pixel Data or the end of the data set. */
  | 'HEADER_TOO_LARGE'
  /** A UID that a PACS stores and finds an instance by is absent (PS3.4 §C.1.2: the unique keys). */
  | 'MISSING_IDENTITY';

/** Thrown inside a read when the bytes are not a readable instance; readers turn it into an answer. */
export class DicomReadError extends Error {
  /** TRUNCATED only: what the walk had read of the top-level data set before the cut (InstanceReadResult.readBeforeCut). */
  readBeforeCut?: DataSetFacts;

  constructor(readonly code: DicomReadProblem, readonly reason: string) {
    super(reason);
    this.name = 'DicomReadError';
  }
}

/**
 * Wraps an error thrown by the caller's byte reader, so it can be told apart from a parse problem
 * and re-thrown unchanged: a storage failure is the reader's problem, not the instance's.
 */
export class ByteReadFailure extends Error {
  constructor(override readonly cause: unknown) {
    super('reading the instance\'s bytes failed', { cause });
    this.name = 'ByteReadFailure';
  }
}

/** "(0008,0018)": how DICOM writes a tag (PS3.5 §7.1). */
export function formatTag(group: number, element: number): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  return `(${hex(group)},${hex(element)})`;
}
