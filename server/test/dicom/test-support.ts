import { readFile } from 'node:fs/promises';
import type { GeneratedInstance, GeneratedStudy } from '@relaypacs/testkit';
import { DEFAULT_ALLOWED_SOP_CLASSES } from '@relaypacs/dicom';
import { validatePart10, type InstanceExpectations, type ValidationLimits, type ValidationResult } from '../../src/dicom/part10-validator.js';
import { bufferReader, type ReadLog } from './header-readers.js';
import type { InstanceIds, Syntax } from './part10-builder.js';

export const ALLOWED_SOP_CLASSES: ReadonlySet<string> = new Set(DEFAULT_ALLOWED_SOP_CLASSES);

export function expectationsFor(ids: InstanceIds, allowed: ReadonlySet<string> = ALLOWED_SOP_CLASSES): InstanceExpectations {
  return { studyInstanceUid: ids.studyInstanceUid, sopInstanceUid: ids.sopInstanceUid, sopClassUid: ids.sopClassUid, allowedSopClasses: allowed };
}

export function idsOf(study: GeneratedStudy, instance: GeneratedInstance): InstanceIds {
  return { studyInstanceUid: study.studyInstanceUid, sopInstanceUid: instance.sopInstanceUid, sopClassUid: instance.sopClassUid };
}

export async function validateBytes(bytes: Buffer, expected: InstanceExpectations, limits?: ValidationLimits): Promise<{ result: ValidationResult; log: ReadLog }> {
  const reader = bufferReader(bytes);
  const result = await validatePart10(reader.readHeader, reader.size, expected, limits);
  return { result, log: reader.log };
}

export async function readInstance(instance: GeneratedInstance): Promise<Buffer> {
  return readFile(instance.path);
}

/** Offset of the first data element with `tag` (and `vr` for explicit syntaxes) at or after `from`. */
export function indexOfElement(bytes: Buffer, tag: number, syntax: Syntax, vr?: string, from = 132): number {
  const head = Buffer.alloc(4);
  if (syntax === 'explicit-be') {
    head.writeUInt16BE(tag >>> 16, 0);
    head.writeUInt16BE(tag & 0xffff, 2);
  } else {
    head.writeUInt16LE(tag >>> 16, 0);
    head.writeUInt16LE(tag & 0xffff, 2);
  }
  const pattern = syntax === 'implicit-le' || vr === undefined ? head : Buffer.concat([head, Buffer.from(vr, 'latin1')]);
  const at = bytes.indexOf(pattern, from);
  if (at < 0) throw new Error(`element ${tag.toString(16)} not found`);
  return at;
}

/**
 * Offsets at which a Part 10 file's data set may end whole: after the meta group, and after each
 * top-level element up to Pixel Data (values skipped by their defined lengths; the generator's files
 * have no undefined-length sequences at the top level). A cut there leaves a shorter, complete data
 * set, not a truncated one.
 */
export function topLevelBoundaries(bytes: Buffer, syntax: Syntax): Set<number> {
  const metaEnd = 144 + bytes.readUInt32LE(140);
  const boundaries = new Set<number>([metaEnd]);
  const be = syntax === 'explicit-be';
  const long = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
  let offset = metaEnd;
  while (offset + 8 <= bytes.length) {
    const group = be ? bytes.readUInt16BE(offset) : bytes.readUInt16LE(offset);
    const element = be ? bytes.readUInt16BE(offset + 2) : bytes.readUInt16LE(offset + 2);
    let length: number;
    let headerBytes: number;
    if (syntax === 'implicit-le') {
      length = bytes.readUInt32LE(offset + 4);
      headerBytes = 8;
    } else {
      const vr = bytes.toString('latin1', offset + 4, offset + 6);
      headerBytes = long.has(vr) ? 12 : 8;
      length = long.has(vr) ? (be ? bytes.readUInt32BE(offset + 8) : bytes.readUInt32LE(offset + 8)) : (be ? bytes.readUInt16BE(offset + 6) : bytes.readUInt16LE(offset + 6));
    }
    if (((group << 16) | element) >>> 0 === 0x7fe00010 || length === 0xffffffff) break;
    offset += headerBytes + length;
    boundaries.add(offset);
  }
  return boundaries;
}

/** mulberry32: the fuzz loop must be reproducible from its seed. */
export function seededRandom(seed: number): { next(): number; int(min: number, max: number): number } {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (min, max) => min + Math.floor(next() * (max - min + 1)) };
}
