import { open } from 'node:fs/promises';
import {
  DEFAULT_FIRST_READ_BYTES, DEFAULT_MAX_HEADER_BYTES, TAG, fileRangeReader, integerString, readInstance, textDecoderFor, trimText,
  type DicomReadProblem, type HeaderReader, type InstanceReadResult,
} from '@relaypacs/dicom';
import type { ErrorCode } from '../../common/error-codes.js';
import type { InstanceHeader } from './instance-header.js';
import { fileErrorReason } from '../file-error-reason.js';

export type HeaderResult =
  | { ok: true; header: InstanceHeader }
  | {
    ok: false;
    code: ErrorCode;
    reason: string;
    /**
     * FILE_TRUNCATED only, when the file was cut after its Study Instance UID (0020,000D): the study
     * it belongs to. A file still being copied names its study long before it ends; the folder
     * watcher holds that study back until the file is whole.
     */
    studyInstanceUid?: string;
  };

export interface HeaderReadLimits {
  /** First read; later reads double while the walk stays contiguous (see @relaypacs/dicom readInstance). */
  firstReadBytes: number;
  /** Most bytes read (and, for a deflated data set, inflated) before Pixel Data or the end of the data set. */
  maxHeaderBytes: number;
}

const DEFAULT_LIMITS: HeaderReadLimits = { firstReadBytes: DEFAULT_FIRST_READ_BYTES, maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES };

/**
 * The top-level attributes the catalog keeps (InstanceHeader), besides the four UIDs the reading
 * core always reads. Specific Character Set (0008,0005) says how their text is encoded (PS3.3
 * §C.12.1.1.2).
 */
const KEPT: ReadonlySet<number> = new Set([
  TAG.SpecificCharacterSet,
  TAG.PatientID, TAG.PatientName, TAG.PatientBirthDate, TAG.PatientSex,
  TAG.StudyDate, TAG.StudyTime, TAG.StudyDescription, TAG.AccessionNumber,
  TAG.SeriesNumber, TAG.SeriesDescription, TAG.Modality,
  TAG.InstanceNumber, TAG.NumberOfFrames,
]);

/**
 * Reads an instance's header with the relay's reading core (@relaypacs/dicom readInstance), so the
 * desktop indexes exactly what the relay will accept: Part 10 files, and bare data sets (no
 * preamble or meta header, as some old exports are) in little endian implicit or explicit VR, which
 * the import wraps before sending. The walk reads in bounded, growing ranges and stops at Pixel
 * Data, which is never read: a 2 GB multi-frame costs what a 500 KB slice does. Bad input is an
 * answer with a reason (tags and offsets, never values), never a throw.
 */
export async function readInstanceHeader(path: string, limits: Partial<HeaderReadLimits> = {}): Promise<HeaderResult> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    return unreadable(error);
  }
  try {
    const { size } = await handle.stat();
    return await readHeader(fileRangeReader(handle), size, { ...DEFAULT_LIMITS, ...limits });
  } catch (error) {
    // The reading core rejects only when the bytes could not be read (I/O), never for what they hold.
    return unreadable(error);
  } finally {
    await handle.close();
  }
}

/**
 * Reads the header of a whole file held in memory (the import reads small files once, then reads
 * the header and hashes from memory). The same reading and the same verdict as readInstanceHeader.
 */
export async function parseHeader(bytes: Buffer): Promise<HeaderResult> {
  // One window over the whole buffer: no copies, and every element header is read without a promise.
  return readHeader(async (start, end) => bytes.subarray(start, end), bytes.length, { firstReadBytes: Math.max(bytes.length, 1), maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES });
}

async function readHeader(readBytes: HeaderReader, size: number, limits: HeaderReadLimits): Promise<HeaderResult> {
  const read = await readInstance(readBytes, size, { bareDataSet: 'read', keep: KEPT, ...limits });
  return read.ok ? { ok: true, header: headerFrom(read) } : refusal(read);
}

/** The catalog's attributes from what the walk kept: text decoded as the data set says, then unpadded (PS3.5 §6.2). */
function headerFrom(read: Extract<InstanceReadResult, { ok: true }>): InstanceHeader {
  const { facts } = read;
  const values = facts.values;
  // Specific Character Set is itself in the default repertoire (PS3.3 §C.12.1.1.2).
  const decode = textDecoderFor(values.get(TAG.SpecificCharacterSet)?.toString('latin1'));
  // The data set's own UIDs, as the relay and a PACS store it by: readInstance has checked that
  // all four are there (PS3.4 §C.1.2.1) and that the meta header agrees (PS3.10 §7.1).
  return {
    sopClassUid: facts.sopClassUid!, sopInstanceUid: facts.sopInstanceUid!,
    transferSyntaxUid: read.transferSyntaxUid,
    instanceNumber: integerValue(values, TAG.InstanceNumber),
    numberOfFrames: integerValue(values, TAG.NumberOfFrames),
    patient: {
      id: textValue(values, TAG.PatientID, decode), name: textValue(values, TAG.PatientName, decode),
      birthDate: textValue(values, TAG.PatientBirthDate, decode), sex: textValue(values, TAG.PatientSex, decode),
    },
    study: {
      instanceUid: facts.studyInstanceUid!, date: textValue(values, TAG.StudyDate, decode), time: textValue(values, TAG.StudyTime, decode),
      description: textValue(values, TAG.StudyDescription, decode), accessionNumber: textValue(values, TAG.AccessionNumber, decode),
    },
    series: {
      instanceUid: facts.seriesInstanceUid!, number: integerValue(values, TAG.SeriesNumber),
      description: textValue(values, TAG.SeriesDescription, decode), modality: textValue(values, TAG.Modality, decode),
    },
    ...(read.meta ? {} : { withoutFileMeta: true as const }),
  };
}

/** A text attribute, decoded and without its padding; '' when absent. */
function textValue(values: ReadonlyMap<number, Buffer>, tag: number, decode: (bytes: Buffer) => string): string {
  const value = values.get(tag);
  return value ? trimText(decode(value)) : '';
}

/** An IS attribute (PS3.5 §6.2: ASCII digits), or null when absent or not a number. */
function integerValue(values: ReadonlyMap<number, Buffer>, tag: number): number | null {
  return integerString(values.get(tag)?.toString('latin1'));
}

/**
 * The reading core's problem as the desktop's error code. Cut short is FILE_TRUNCATED (export it
 * again, or wait for the copy to finish); everything else, including a header too large to read
 * and a data set without the UIDs a PACS stores it by, is not an instance that can be sent.
 */
const ERROR_CODE: Readonly<Record<DicomReadProblem, ErrorCode>> = {
  TRUNCATED: 'FILE_TRUNCATED',
  NOT_PART10: 'FILE_NOT_DICOM',
  BAD_META_HEADER: 'FILE_NOT_DICOM',
  MALFORMED: 'FILE_NOT_DICOM',
  HEADER_TOO_LARGE: 'FILE_NOT_DICOM',
  MISSING_IDENTITY: 'FILE_NOT_DICOM',
};

function refusal(read: Extract<InstanceReadResult, { ok: false }>): HeaderResult {
  const code = ERROR_CODE[read.code];
  const studyInstanceUid = read.readBeforeCut?.studyInstanceUid;
  return { ok: false, code, reason: read.reason, ...(code === 'FILE_TRUNCATED' && studyInstanceUid ? { studyInstanceUid } : {}) };
}

function unreadable(error: unknown): HeaderResult {
  return { ok: false, code: 'FILE_UNREADABLE', reason: fileErrorReason(error) };
}

