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
/**
 * Most bytes a deflated data set is inflated to for its header, as much as a header may be read
 * of a file. A deflate stream expands up to 1032 times: a 200 KB file can hold a 200 MB data set,
 * and inflating it whole (times the import's 32 files at once) would exhaust memory.
 */
export const MAX_INFLATED_HEADER_BYTES = DEFAULT_LIMITS.maxHeaderBytes;
/**
 * Most sequence items a header parse may meet (about 50 MB of parser objects). dicom-parser keeps
 * an object of about 1 KB per item, so a file of nothing but empty items (8 to 16 bytes each)
 * costs 60 times its size: the 16 MB a header may be would take a gigabyte. Real headers hold a
 * few thousand; one with more (a huge RT structure set, a sparse slide's per-frame groups) is read
 * like a header past maxHeaderBytes: its identifying attributes, which come first, are kept.
 */
export const MAX_HEADER_ITEMS = 50_000;
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
  // Why the parse gets less than the bytes hold (too many sequence items, or a deflated data set
  // capped): what it then reads is all it will ever read, so it never asks for more.
  let cutShort: string | undefined;
  let parsed = bytes;
  const itemCut = itemLimitOffset(bytes, 0);
  if (itemCut !== undefined) {
    parsed = bytes.subarray(0, itemCut);
    cutShort = TOO_MANY_ITEMS;
  }
  try {
    dataSet = dicomParser.parseDicom(new Uint8Array(parsed.buffer, parsed.byteOffset, parsed.length), {
      untilTag: PIXEL_DATA,
      ...(rawSyntax ? { TransferSyntaxUID: rawSyntax } : {}),
      inflater: (array: Uint8Array, position: number) => {
        const inflated = inflatePrefix(array, position, MAX_INFLATED_HEADER_BYTES);
        if (inflated.cut) cutShort = INFLATES_TOO_FAR;
        const cut = itemLimitOffset(inflated.bytes, position);
        if (cut === undefined) return inflated.bytes;
        cutShort = TOO_MANY_ITEMS;
        return inflated.bytes.subarray(0, cut);
      },
    } as dicomParser.ParseDicomOptions);
  } catch (error) {
    const message = typeof error === 'string' ? error : String((error as { exception?: unknown; message?: string }).exception ?? (error as Error).message ?? error);
    const partial = (error as { dataSet?: DataSet }).dataSet;
    if (cutShort) {
      // As at the last prefix: what was read identifies the object, or it is refused for what cut it short.
      const header = partial ? headerFrom(partial, rawSyntax ?? metaSyntax(parsed)) : undefined;
      return header?.ok ? header : { ok: false, code: 'FILE_NOT_DICOM', reason: cutShort };
    }
    const overrun = OVERRUN.test(message);
    if (overrun && !wholeFile) {
      if (lastTry && partial) return headerFrom(partial, rawSyntax ?? metaSyntax(parsed));
      return 'need-more';
    }
    if (overrun) return { ok: false, code: 'FILE_TRUNCATED', reason: 'the file ends in the middle of its header' };
    return { ok: false, code: 'FILE_NOT_DICOM', reason: `the DICOM header could not be parsed (${message.replace(/^dicomParser\.\w+: /, '').slice(0, 200)})` };
  }
  if (!dataSet.elements[PIXEL_DATA] && !wholeFile && !cutShort) {
    // The parse ran to the end of the prefix without meeting Pixel Data: the header may go on.
    return 'need-more';
  }
  const header = headerFrom(dataSet, rawSyntax, wholeFile && !cutShort);
  return cutShort && !header.ok ? { ok: false, code: 'FILE_NOT_DICOM', reason: cutShort } : header;
}

/** How dicom-parser says that the bytes ended inside an element: with a prefix, ask for more; with the whole file, it is cut short. */
const OVERRUN = /overrun|overread|beyond|end of buffer|past the end/i;
const INFLATES_TOO_FAR = `the deflated data set inflates to more than ${MAX_INFLATED_HEADER_BYTES / 1024 / 1024} MB before its pixel data`;
const TOO_MANY_ITEMS = `the header holds more than ${MAX_HEADER_ITEMS} sequence items before its pixel data`;
const ITEM_TAGS = [Buffer.from([0xfe, 0xff, 0x00, 0xe0]), Buffer.from([0xff, 0xfe, 0xe0, 0x00])]; // (FFFE,E000), little and big endian

/**
 * Where to cut `bytes` so that a parse meets at most MAX_HEADER_ITEMS item tags (PS3.5 §7.5) after
 * `from`, or undefined when they hold no more. Counted on the raw bytes, so a value that happens to
 * contain the tag counts too: harmless at this limit.
 */
function itemLimitOffset(bytes: Uint8Array, from: number): number | undefined {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  for (const tag of ITEM_TAGS) {
    let at = from - 1;
    for (let count = 0; count <= MAX_HEADER_ITEMS; count++) {
      at = view.indexOf(tag, at + 1);
      if (at < 0) break;
    }
    if (at >= 0) return at;
  }
  return undefined;
}

/** The Transfer Syntax UID of the meta header; a partly parsed data set does not carry it. */
function metaSyntax(bytes: Uint8Array): string | undefined {
  try {
    return dicomParser.readPart10Header(bytes).string('x00020010')?.replace(/[\0 ]+$/, '') || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The catalog's attributes from a parsed data set. dicom-parser records an element whose length
 * runs past the bytes it was given (a file cut inside an implicit VR value, say) and throws only
 * when its value is read, here: that is a header that cannot be parsed, not an error to pass on.
 */
function headerFrom(dataSet: DataSet, rawSyntax: string | undefined, wholeFile = false): HeaderResult {
  try {
    return readHeaderFields(dataSet, rawSyntax);
  } catch (error) {
    const message = describeThrown(error).replace(/^dicomParser\.\w+: /, '');
    if (wholeFile && OVERRUN.test(message)) return { ok: false, code: 'FILE_TRUNCATED', reason: 'the file ends in the middle of its header' };
    return { ok: false, code: 'FILE_NOT_DICOM', reason: `the DICOM header could not be parsed (${message})` };
  }
}

function readHeaderFields(dataSet: DataSet, rawSyntax: string | undefined): HeaderResult {
  const text = (tag: string) => (dataSet.string(tag) ?? '').replace(/[\0 ]+$/, '');
  const int = (tag: string) => {
    const value = dataSet.intString(tag);
    return value === undefined || Number.isNaN(value) ? null : value;
  };
  // The data set's own UIDs, as the relay and a PACS store it by: the meta header's copies
  // (0002,0002-0003) do not stand in for them.
  const sopInstanceUid = text('x00080018');
  const sopClassUid = text('x00080016');
  const studyInstanceUid = text('x0020000d');
  const seriesInstanceUid = text('x0020000e');
  const missing = [
    ['SOP Instance UID (0008,0018)', sopInstanceUid], ['SOP Class UID (0008,0016)', sopClassUid],
    ['Study Instance UID (0020,000D)', studyInstanceUid], ['Series Instance UID (0020,000E)', seriesInstanceUid],
  ].filter(([, value]) => !value).map(([name]) => name);
  // A PACS stores and finds an instance by these UIDs: without them it cannot be sent (ACR-NEMA
  // files and damaged exports), so it is listed as a problem, not queued to be refused later.
  if (missing.length > 0) return { ok: false, code: 'FILE_NOT_DICOM', reason: `the header has no ${missing.join(', ')}, so no PACS can store it` };
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
      ...(rawSyntax ? { withoutFileMeta: true as const } : {}),
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
 * Deflated data sets (PS3.5 §A.5): inflate what the prefix holds, up to `maxBytes`. Z_SYNC_FLUSH
 * lets a cut-off stream yield what it has; the header then parses or asks for more. zlib's sync
 * API cannot stop at a size and keep what it made, so ever longer pieces of the stream are
 * inflated (each 4 times the last, so the work stays within 4/3 of one pass) until the stream
 * ends or the next piece would pass `maxBytes`; the last piece that fitted is used (`cut`).
 * The first piece is small enough that it always fits: deflate expands at most 1032 times.
 */
function inflatePrefix(array: Uint8Array, position: number, maxBytes: number): { bytes: Uint8Array; cut: boolean } {
  const stream = array.subarray(position);
  let take = Math.min(stream.length, Math.max(1, Math.floor(maxBytes / 1032)));
  let inflated = inflateRawSync(stream.subarray(0, take), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: maxBytes });
  let cut = false;
  while (take < stream.length) {
    take = Math.min(stream.length, take * 4);
    try {
      inflated = inflateRawSync(stream.subarray(0, take), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: maxBytes });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw error;
      cut = true;
      break;
    }
  }
  const out = new Uint8Array(position + inflated.length);
  out.set(array.subarray(0, position), 0);
  out.set(inflated, position);
  return { bytes: out, cut };
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
