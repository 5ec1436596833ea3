import type { ByteWindow } from './byte-window.js';
import type { DataSetEncoding } from './transfer-syntax.js';
import { DicomReadError, formatTag } from './read-problem.js';
import { MAX_UID_BYTES, normalizeUid } from './uid.js';

/** A value length of FFFFFFFFH: the value ends at a delimitation item (PS3.5 §7.1.1, §7.5). */
export const UNDEFINED_LENGTH = 0xffffffff;

export const ITEM = 0xfffee000;
export const ITEM_DELIMITATION_ITEM = 0xfffee00d;
export const SEQUENCE_DELIMITATION_ITEM = 0xfffee0dd;

/** Every VR of PS3.5 Table 6.2-1. */
const VALUE_REPRESENTATION_LIST = [
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW',
  'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
] as const;
export type ValueRepresentation = typeof VALUE_REPRESENTATION_LIST[number];

/** VRs whose explicit header has 2 reserved bytes and a 32-bit length (PS3.5 §7.1.2, Table 7.1-1). */
export const LONG_LENGTH_VRS: ReadonlySet<string> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/**
 * Every VR by its two bytes as one number (first byte high), so that the header of each element is
 * decoded without making a string: the walk meets thousands of elements per file.
 */
const VALUE_REPRESENTATIONS: ReadonlyMap<number, { vr: ValueRepresentation; longLength: boolean }> = new Map(
  VALUE_REPRESENTATION_LIST.map((vr) => [(vr.charCodeAt(0) << 8) | vr.charCodeAt(1), { vr, longLength: LONG_LENGTH_VRS.has(vr) }]),
);

export interface ElementHeader {
  /** (group << 16 | element), unsigned. */
  tag: number;
  group: number;
  /** Absent for implicit VR and for items and delimiters, which never carry one (PS3.5 §7.5). */
  vr: string | undefined;
  /** Value length, or UNDEFINED_LENGTH. */
  length: number;
  /** Bytes taken by tag, VR and length: 8 or 12. */
  headerBytes: number;
}

/**
 * Decodes the data element header at `offset` (PS3.5 §7.1.1-§7.1.3): tag, then for explicit VR a
 * two-letter VR and a 16-bit length, or two reserved bytes and a 32-bit length; for implicit VR, and
 * for items and delimiters in any syntax (PS3.5 §7.5), a 32-bit length. Returns undefined exactly
 * at the end of the source; rejects a header the source cuts short.
 */
export async function readElementHeader(window: ByteWindow, offset: number, encoding: DataSetEncoding): Promise<ElementHeader | undefined> {
  const size = encoding.explicitVr ? 12 : 8;
  return decodeElementHeader(window.cached(offset, size) ?? await window.peek(offset, size), window, offset, encoding);
}

function decodeElementHeader(head: Buffer, window: ByteWindow, offset: number, encoding: DataSetEncoding): ElementHeader | undefined {
  if (head.length === 0) {
    if (window.length !== undefined && offset > window.length) {
      throw new DicomReadError('TRUNCATED', `the file ends inside the value of a data element, before byte ${offset}`);
    }
    return undefined;
  }
  if (head.length < 8) throw new DicomReadError('TRUNCATED', `the file ends inside the data element header at byte ${offset}`);
  const le = encoding.littleEndian;
  const group = le ? head.readUInt16LE(0) : head.readUInt16BE(0);
  const element = le ? head.readUInt16LE(2) : head.readUInt16BE(2);
  const tag = ((group << 16) | element) >>> 0;
  if (group === 0xfffe || !encoding.explicitVr) return { tag, group, vr: undefined, length: le ? head.readUInt32LE(4) : head.readUInt32BE(4), headerBytes: 8 };
  const known = VALUE_REPRESENTATIONS.get((head[4]! << 8) | head[5]!);
  if (!known) {
    throw new DicomReadError('MALFORMED', `data element ${formatTag(group, element)} has no valid value representation (PS3.5 §6.2)`);
  }
  const { vr } = known;
  if (!known.longLength) return { tag, group, vr, length: le ? head.readUInt16LE(6) : head.readUInt16BE(6), headerBytes: 8 };
  if (head.length < 12) throw new DicomReadError('TRUNCATED', `the file ends inside the header of ${formatTag(group, element)} at byte ${offset}`);
  return { tag, group, vr, length: le ? head.readUInt32LE(8) : head.readUInt32BE(8), headerBytes: 12 };
}

/** Reads a UI value with its padding removed (PS3.5 §9.1). Never reads more than MAX_UID_BYTES. */
export async function readUidValue(window: ByteWindow, header: ElementHeader, valueOffset: number): Promise<string> {
  if (header.length === UNDEFINED_LENGTH || header.length > MAX_UID_BYTES) {
    throw new DicomReadError('MALFORMED', `${tagName(header.tag)} declares ${header.length === UNDEFINED_LENGTH ? 'an undefined length' : `${header.length} bytes`}, too long for a UID (PS3.5 §6.2: at most 64)`);
  }
  const bytes = window.cached(valueOffset, header.length) ?? await window.peek(valueOffset, header.length);
  if (bytes.length < header.length) throw new DicomReadError('TRUNCATED', `the file ends inside ${tagName(header.tag)}, whose value starts at byte ${valueOffset}`);
  return normalizeUid(bytes.toString('latin1'));
}

export function tagName(tag: number): string {
  return formatTag(tag >>> 16, tag & 0xffff);
}
