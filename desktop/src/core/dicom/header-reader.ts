import { open } from 'node:fs/promises';
import { inflateRawSync, constants as zlibConstants } from 'node:zlib';
import dicomParser from 'dicom-parser';
import type { DataSet } from 'dicom-parser';
import type { ErrorCode } from '../../common/error-codes.js';
import type { InstanceHeader } from './instance-header.js';

export type HeaderResult =
  | { ok: true; header: InstanceHeader }
  | { ok: false; code: ErrorCode; reason: string };

export interface HeaderReadLimits {
  /** First read; doubled while the header has not ended, up to maxHeaderBytes. */
  firstReadBytes: number;
  maxHeaderBytes: number;
}

const DEFAULT_LIMITS: HeaderReadLimits = { firstReadBytes: 64 * 1024, maxHeaderBytes: 16 * 1024 * 1024 };
const PIXEL_DATA = 'x7fe00010';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const DEFLATED = '1.2.840.10008.1.2.1.99';

/**
 * Reads an instance's header with dicom-parser from a growing prefix of the file, stopping at Pixel
 * Data (7FE0,0010): a 2 GB multi-frame costs the same memory as a 500 KB slice. Part 10 files and
 * raw data sets (no preamble or meta, as some old exports are) in implicit or explicit little
 * endian, big endian and deflated syntaxes; encapsulated pixel data is never touched. Bad input is
 * an answer with a reason, never a throw.
 */
export async function readInstanceHeader(path: string, limits: Partial<HeaderReadLimits> = {}): Promise<HeaderResult> {
  const { firstReadBytes, maxHeaderBytes } = { ...DEFAULT_LIMITS, ...limits };
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    return unreadable(error);
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return { ok: false, code: 'FILE_NOT_DICOM', reason: 'the file is empty' };
    let want = Math.min(size, firstReadBytes);
    for (;;) {
      const prefix = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(prefix, 0, want, 0);
      const bytes = prefix.subarray(0, bytesRead);
      const complete = bytesRead >= size;
      const parsed = parseHeader(bytes, complete, want >= maxHeaderBytes);
      if (parsed !== 'need-more') return parsed;
      if (complete) return { ok: false, code: 'FILE_TRUNCATED', reason: 'the file ends before its header does' };
      if (want >= maxHeaderBytes) return { ok: false, code: 'FILE_NOT_DICOM', reason: `the header is larger than ${maxHeaderBytes} bytes` };
      want = Math.min(size, want * 2, maxHeaderBytes);
    }
  } catch (error) {
    // File-system errors carry an errno code; anything else was thrown while parsing the bytes.
    if ((error as NodeJS.ErrnoException).code) return unreadable(error);
    return { ok: false, code: 'FILE_NOT_DICOM', reason: `the DICOM header could not be parsed (${describeThrown(error)})` };
  } finally {
    await handle.close();
  }
}

function describeThrown(error: unknown): string {
  if (error instanceof Error) return error.message.slice(0, 200);
  const exception = (error as { exception?: unknown }).exception;
  return String(exception ?? error).slice(0, 200);
}

/**
 * Parses a header from a prefix; 'need-more' when the prefix ended inside the header. At the last
 * prefix (`lastTry`), an object without Pixel Data whose identifying attributes are all read is
 * accepted even if a large later element (an encapsulated PDF, say) runs past the prefix.
 */
export function parseHeader(bytes: Buffer, wholeFile: boolean, lastTry = false): HeaderResult | 'need-more' {
  const part10 = bytes.length >= 132 && bytes.toString('latin1', 128, 132) === 'DICM';
  let rawSyntax: string | undefined;
  if (part10 && !wholeFile) {
    // The meta group must be whole before dicom-parser sees it: it states its own length (PS3.10 §7.1).
    if (bytes.length < 144) return 'need-more';
    const hasGroupLength = bytes.readUInt16LE(132) === 0x0002 && bytes.readUInt16LE(134) === 0x0000;
    if (hasGroupLength && bytes.length < 144 + bytes.readUInt32LE(140) + 8) return 'need-more';
  }
  if (!part10) {
    if (bytes.length < 132 && !wholeFile) return 'need-more';
    rawSyntax = sniffRawDataSet(bytes);
    if (!rawSyntax) return { ok: false, code: 'FILE_NOT_DICOM', reason: bytes.length < 132 ? 'the file is too short to be DICOM' : 'no DICOM preamble ("DICM" at byte 128) and no DICOM data set at the start' };
  }
  let dataSet: DataSet;
  try {
    dataSet = dicomParser.parseDicom(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), {
      untilTag: PIXEL_DATA,
      ...(rawSyntax ? { TransferSyntaxUID: rawSyntax } : {}),
      inflater: (array: Uint8Array, position: number) => inflatePrefix(array, position),
    } as dicomParser.ParseDicomOptions);
  } catch (error) {
    const message = typeof error === 'string' ? error : String((error as { exception?: unknown; message?: string }).exception ?? (error as Error).message ?? error);
    // dicom-parser reports a prefix that ends mid-element as a buffer overrun, with what it parsed.
    const overrun = /overrun|overread|beyond|end of buffer|past the end/i.test(message);
    if (overrun && !wholeFile) {
      const partial = (error as { dataSet?: DataSet }).dataSet;
      if (lastTry && partial) return headerFrom(partial, rawSyntax);
      return 'need-more';
    }
    if (overrun) return { ok: false, code: 'FILE_TRUNCATED', reason: 'the file ends in the middle of its header' };
    return { ok: false, code: 'FILE_NOT_DICOM', reason: `the DICOM header could not be parsed (${message.replace(/^dicomParser\.\w+: /, '').slice(0, 200)})` };
  }
  if (!dataSet.elements[PIXEL_DATA] && !wholeFile) {
    // The parse ran to the end of the prefix without meeting Pixel Data: the header may go on.
    return 'need-more';
  }
  return headerFrom(dataSet, rawSyntax);
}

function headerFrom(dataSet: DataSet, rawSyntax: string | undefined): HeaderResult {
  const text = (tag: string) => (dataSet.string(tag) ?? '').replace(/[\0 ]+$/, '');
  const int = (tag: string) => {
    const value = dataSet.intString(tag);
    return value === undefined || Number.isNaN(value) ? null : value;
  };
  const sopInstanceUid = text('x00080018') || text('x00020003');
  const sopClassUid = text('x00080016') || text('x00020002');
  const studyInstanceUid = text('x0020000d');
  const seriesInstanceUid = text('x0020000e');
  const missing = [
    ['SOP Instance UID (0008,0018)', sopInstanceUid], ['SOP Class UID (0008,0016)', sopClassUid],
    ['Study Instance UID (0020,000D)', studyInstanceUid], ['Series Instance UID (0020,000E)', seriesInstanceUid],
  ].filter(([, value]) => !value).map(([name]) => name);
  if (missing.length > 0) return { ok: false, code: 'FILE_NOT_DICOM', reason: `the header has no ${missing.join(', ')}` };
  return {
    ok: true,
    header: {
      sopClassUid, sopInstanceUid,
      transferSyntaxUid: rawSyntax ?? (text('x00020010') || IMPLICIT_LE),
      instanceNumber: int('x00200013'),
      numberOfFrames: int('x00280008'),
      patient: { id: text('x00100020'), name: text('x00100010'), birthDate: text('x00100030'), sex: text('x00100040') },
      study: { instanceUid: studyInstanceUid, date: text('x00080020'), time: text('x00080030'), description: text('x00081030'), accessionNumber: text('x00080050') },
      series: { instanceUid: seriesInstanceUid, number: int('x00200011'), description: text('x0008103e'), modality: text('x00080060') },
    },
  };
}

/**
 * A raw data set (no preamble) starts with a low group tag, usually (0008,xxxx). Explicit VR puts
 * two letters after the tag; implicit VR a 32-bit length. Answers the syntax to parse with, or
 * undefined when the bytes do not look like a data set at all.
 */
function sniffRawDataSet(bytes: Buffer): string | undefined {
  if (bytes.length < 8) return undefined;
  const group = bytes.readUInt16LE(0);
  if (group < 0x0002 || group > 0x0010) return undefined;
  const vr = bytes.toString('latin1', 4, 6);
  if (/^[A-Z]{2}$/.test(vr)) return EXPLICIT_LE;
  const length = bytes.readUInt32LE(4);
  return length < 0x10000 ? IMPLICIT_LE : undefined;
}

/**
 * Deflated data sets (PS3.5 §A.5): inflate what the prefix holds. Z_SYNC_FLUSH lets a cut-off
 * stream yield what it has; the header then parses or asks for more.
 */
function inflatePrefix(array: Uint8Array, position: number): Uint8Array {
  const inflated = inflateRawSync(array.subarray(position), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 256 * 1024 * 1024 });
  const out = new Uint8Array(position + inflated.length);
  out.set(array.subarray(0, position), 0);
  out.set(inflated, position);
  return out;
}

function unreadable(error: unknown): HeaderResult {
  return { ok: false, code: 'FILE_UNREADABLE', reason: fileErrorReason(error) };
}

/** Why a file could not be read, in words a radiographer can act on. */
export function fileErrorReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'the file disappeared before it could be read'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
      : code === 'EISDIR' ? 'it is a folder' : `it could not be read (${code ?? (error as Error).message})`;
}

export { DEFLATED, EXPLICIT_LE, IMPLICIT_LE };
