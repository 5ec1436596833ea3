import {
  ANY_SOP_CLASS, isWellFormedUid, normalizeUid, readInstance, TAG, trimText,
  type HeaderReader,
} from '@relaypacs/dicom';
import type { InstanceRejectionCode } from '../protocol/error-codes.js';

export type { HeaderReader } from '@relaypacs/dicom';

/** What the upload declared for one instance, and what this relay accepts. */
export interface InstanceExpectations {
  studyInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  allowedSopClasses: ReadonlySet<string>;
}

export type ValidationResult =
  | {
    ok: true; transferSyntaxUid: string; sopClassUid: string; sopInstanceUid: string; studyInstanceUid: string;
    /** Accession Number (0008,0050), when the file has one: what a RIS's HL7 report may name the study by. */
    accessionNumber?: string;
  }
  | { ok: false; code: InstanceRejectionCode; reason: string };

export interface ValidationLimits {
  /** See InstanceReadOptions.maxHeaderBytes in @relaypacs/dicom. */
  maxHeaderBytes?: number;
  /** Size of the first read; later reads double while the walk stays contiguous. */
  firstReadBytes?: number;
}

/**
 * Validates one stored instance as DICOM Part 10 (PS3.10 §7) with the reading core the desktop
 * indexes with (@relaypacs/dicom readInstance), so both give one verdict on the file: preamble and
 * File Meta Information, then the data set up to Pixel Data, which is never read. The relay takes
 * Part 10 files only: the agent wraps a bare data set in a meta header before sending it. Then the
 * relay's own checks: the instance must name the study of the upload and the SOP instance and class
 * of its manifest entry, and its SOP class must be allowed.
 *
 * Bad input resolves `{ ok: false }` with a code and a reason that names tags and sizes, never
 * attribute values (no PHI). It rejects only when `readHeader` does (I/O), with that error.
 */
export async function validatePart10(
  readHeader: HeaderReader,
  size: number,
  expected: InstanceExpectations,
  limits: ValidationLimits = {},
): Promise<ValidationResult> {
  const read = await readInstance(readHeader, size, { bareDataSet: 'refuse', keep: KEPT, ...limits });
  if (!read.ok) return read;
  const { sopClassUid, sopInstanceUid, studyInstanceUid } = read.facts as Required<typeof read.facts>;
  const reject = (code: InstanceRejectionCode, reason: string): ValidationResult => ({ ok: false, code, reason });
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
  // SH, default repertoire (PS3.5 §6.2): read as Latin-1, padding removed; at most 16 characters.
  const accession = read.facts.values.get(TAG.AccessionNumber);
  const accessionNumber = accession ? trimText(accession.subarray(0, 64).toString('latin1')) : '';
  return { ok: true, transferSyntaxUid: read.transferSyntaxUid, sopClassUid, sopInstanceUid, studyInstanceUid, ...(accessionNumber ? { accessionNumber } : {}) };
}

const KEPT: ReadonlySet<number> = new Set([TAG.AccessionNumber]);
