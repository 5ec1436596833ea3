import { readFile } from 'node:fs/promises';
import type { GeneratedInstance, GeneratedStudy } from '@relaypacs/testkit';
import { DEFAULT_ALLOWED_SOP_CLASSES } from '../../src/dicom/sop-classes.js';
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
