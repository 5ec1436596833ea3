// Structure-aware mutations of valid DICOM Part 10 files for the malformed-input fuzzer. A seed is
// walked once (every element, item and delimiter header with where its tag, VR and length sit), so
// a mutation can aim at what parsers trust: a length field, a VR, a tag, the preamble, the meta
// group, the nesting of sequences. Deflated seeds are mutated either as stored (the compressed
// stream) or in their inflated form and deflated again, so structural damage reaches the parser
// behind the inflater too.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Xorshift32 } from './fuzz-random.js';
import { LONG_LENGTH_VRS } from '@relaypacs/dicom';

export interface DicomSyntax {
  explicitVr: boolean;
  littleEndian: boolean;
}

/** One data element, item or delimiter header of a seed, in the seed's plain (inflated) bytes. */
export interface ElementSite {
  offset: number;
  tag: number;
  kind: 'element' | 'item' | 'delimiter';
  /** Explicit VR elements only. */
  vr?: string;
  lengthOffset: number;
  lengthBytes: 2 | 4;
  length: number;
  headerBytes: number;
  littleEndian: boolean;
  explicitVr: boolean;
  depth: number;
  /** In the File Meta Information group (always explicit VR little endian, never deflated). */
  meta: boolean;
  /** Offset just past the element (value, items and delimiter included). */
  end: number;
}

export interface InstanceIds {
  studyInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
}

export interface DicomSeed {
  name: string;
  /** The valid file as stored. */
  file: Buffer;
  /** The file with its data set inflated (the same bytes unless deflated). */
  plain: Buffer;
  /** Offset of the first data set byte (the end of the meta group). */
  metaEnd: number;
  deflated: boolean;
  syntax: DicomSyntax;
  sites: ElementSite[];
  /** Offset of the top-level Pixel Data header in `plain`, if any. */
  pixelData: number | undefined;
  /** What the relay is told in the manifest; absent for a DICOMDIR. */
  ids: InstanceIds | undefined;
}

export interface Mutation {
  bytes: Buffer;
  /** What was done, for the failure report: tags, offsets and values, never patient data. */
  detail: string;
}

/** A deflated data set bomb: a small file whose data set inflates to `inflatedBytes`. */
export interface DeflateBomb {
  inflatedBytes: number;
  file: Buffer;
}

export interface DicomMutatorContext {
  seeds: readonly DicomSeed[];
  bombs: readonly DeflateBomb[];
}

export type DicomMutator = (seed: DicomSeed, random: Xorshift32, context: DicomMutatorContext) => Mutation;

export const UNDEFINED_LENGTH = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIMITATION = 0xfffee00d;
const SEQUENCE_DELIMITATION = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';
const DEFLATED_LE = '1.2.840.10008.1.2.1.99';
const ALL_VRS = ['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW',
  'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV'] as const;
/** Sequences an implicit VR walker should descend into even when their length is defined. */
const KNOWN_SEQUENCES = new Set([0x00081140, 0x0040a730, 0x00041220, 0x00081115]);

export const tagText = (tag: number): string => `(${(tag >>> 16).toString(16).toUpperCase().padStart(4, '0')},${(tag & 0xffff).toString(16).toUpperCase().padStart(4, '0')})`;

// ---------------------------------------------------------------------------------------------
// Seeds: walk a valid file once

export function describeSeed(name: string, file: Buffer, ids: InstanceIds | undefined): DicomSeed {
  if (file.toString('latin1', 128, 132) !== 'DICM') throw new Error(`seed ${name} is not Part 10`);
  const sites: ElementSite[] = [];
  const meta = new SiteWalker(file, { explicitVr: true, littleEndian: true }, true, sites);
  let offset = 132;
  let transferSyntax = '';
  while (offset + 8 <= file.length && file.readUInt16LE(offset) === 0x0002) {
    const site = meta.header(offset, 0);
    sites.push(site);
    if (site.tag === 0x00020010) transferSyntax = file.toString('latin1', offset + site.headerBytes, site.end).replace(/[\0 ]+$/, '');
    offset = site.end;
  }
  const metaEnd = offset;
  const deflated = transferSyntax === DEFLATED_LE;
  const syntax: DicomSyntax = { explicitVr: transferSyntax !== IMPLICIT_LE, littleEndian: transferSyntax !== EXPLICIT_BE };
  const plain = deflated ? Buffer.concat([file.subarray(0, metaEnd), inflateRawSync(file.subarray(metaEnd))]) : file;
  const walker = new SiteWalker(plain, syntax, false, sites);
  walker.dataSet(metaEnd, plain.length, 0);
  return { name, file, plain, metaEnd, deflated, syntax, sites, pixelData: walker.pixelData, ids };
}

class SiteWalker {
  pixelData: number | undefined;

  constructor(private readonly bytes: Buffer, private readonly syntax: DicomSyntax, private readonly meta: boolean, private readonly sites: ElementSite[]) {}

  private u16(at: number): number {
    return this.syntax.littleEndian ? this.bytes.readUInt16LE(at) : this.bytes.readUInt16BE(at);
  }

  private u32(at: number): number {
    return this.syntax.littleEndian ? this.bytes.readUInt32LE(at) : this.bytes.readUInt32BE(at);
  }

  header(offset: number, depth: number): ElementSite {
    const group = this.u16(offset);
    const tag = ((group << 16) | this.u16(offset + 2)) >>> 0;
    const common = { offset, tag, littleEndian: this.syntax.littleEndian, explicitVr: this.syntax.explicitVr, depth, meta: this.meta };
    if (group === 0xfffe) {
      const length = this.u32(offset + 4);
      return { ...common, kind: tag === ITEM ? 'item' : 'delimiter', lengthOffset: offset + 4, lengthBytes: 4, length, headerBytes: 8, end: offset + 8 + (length === UNDEFINED_LENGTH ? 0 : length) };
    }
    if (this.syntax.explicitVr) {
      const vr = this.bytes.toString('latin1', offset + 4, offset + 6);
      if (LONG_LENGTH_VRS.has(vr)) {
        const length = this.u32(offset + 8);
        return { ...common, kind: 'element', vr, lengthOffset: offset + 8, lengthBytes: 4, length, headerBytes: 12, end: offset + 12 + (length === UNDEFINED_LENGTH ? 0 : length) };
      }
      const length = this.u16(offset + 6);
      return { ...common, kind: 'element', vr, lengthOffset: offset + 6, lengthBytes: 2, length, headerBytes: 8, end: offset + 8 + length };
    }
    const length = this.u32(offset + 4);
    return { ...common, kind: 'element', lengthOffset: offset + 4, lengthBytes: 4, length, headerBytes: 8, end: offset + 8 + (length === UNDEFINED_LENGTH ? 0 : length) };
  }

  /** Elements from `start` up to `end`, or up to an Item Delimitation Item when `end` is undefined. */
  dataSet(start: number, end: number | undefined, depth: number): number {
    let offset = start;
    while (end === undefined ? offset + 8 <= this.bytes.length : offset < end) {
      const site = this.header(offset, depth);
      this.sites.push(site);
      if (site.tag === ITEM_DELIMITATION && end === undefined) return site.end;
      if (site.tag === PIXEL_DATA && depth === 0) this.pixelData = offset;
      offset = this.value(site);
    }
    return offset;
  }

  private value(site: ElementSite): number {
    const valueStart = site.offset + site.headerBytes;
    if (site.length === UNDEFINED_LENGTH) {
      const fragments = site.tag === PIXEL_DATA || site.vr === 'OB' || site.vr === 'OW';
      site.end = fragments ? this.fragments(valueStart, site.depth + 1) : this.sequence(valueStart, undefined, site.depth + 1);
      return site.end;
    }
    if (site.vr === 'SQ' || (!this.syntax.explicitVr && KNOWN_SEQUENCES.has(site.tag))) this.sequence(valueStart, site.end, site.depth + 1);
    return site.end;
  }

  private sequence(start: number, end: number | undefined, depth: number): number {
    let offset = start;
    for (;;) {
      if (end !== undefined && offset >= end) return offset;
      if (offset + 8 > this.bytes.length) return offset;
      const site = this.header(offset, depth);
      this.sites.push(site);
      if (site.tag === SEQUENCE_DELIMITATION) return site.end;
      if (site.tag !== ITEM) throw new Error(`seed walk: ${tagText(site.tag)} where an item should be at ${offset}`);
      if (site.length === UNDEFINED_LENGTH) site.end = this.dataSet(offset + 8, undefined, depth);
      else this.dataSet(offset + 8, site.end, depth);
      offset = site.end;
    }
  }

  private fragments(start: number, depth: number): number {
    let offset = start;
    while (offset + 8 <= this.bytes.length) {
      const site = this.header(offset, depth);
      this.sites.push(site);
      offset = site.end;
      if (site.tag === SEQUENCE_DELIMITATION) return offset;
    }
    return offset;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** The seed's plain bytes turned back into a file: the data set deflated again for a deflated seed. */
function finish(seed: DicomSeed, plain: Buffer): Buffer {
  if (!seed.deflated) return plain;
  const metaEnd = Math.min(seed.metaEnd, plain.length);
  return Buffer.concat([plain.subarray(0, metaEnd), deflateRawSync(plain.subarray(metaEnd))]);
}

/** The bytes to damage: for a deflated seed sometimes its compressed stream, sometimes its inflated data set. */
function surface(seed: DicomSeed, random: Xorshift32): { bytes: Buffer; headerEnd: number; where: string; done: (bytes: Buffer) => Buffer } {
  if (seed.deflated && random.chance(0.4)) {
    return { bytes: Buffer.from(seed.file), headerEnd: seed.file.length, where: 'compressed file', done: (bytes) => bytes };
  }
  const headerEnd = seed.pixelData === undefined ? seed.plain.length : Math.min(seed.plain.length, seed.pixelData + 12);
  return { bytes: Buffer.from(seed.plain), headerEnd, where: seed.deflated ? 'inflated data set' : 'file', done: (bytes) => finish(seed, bytes) };
}

/** Mostly inside the header (before and around Pixel Data), where parsers make decisions; sometimes anywhere. */
function offsetIn(random: Xorshift32, length: number, headerEnd: number): number {
  if (length === 0) return 0;
  return random.chance(0.85) ? random.int(0, Math.max(0, Math.min(headerEnd, length) - 1)) : random.int(0, length - 1);
}

function writeUint(bytes: Buffer, at: number, size: 2 | 4, value: number, littleEndian: boolean): void {
  if (at + size > bytes.length) return;
  const v = size === 2 ? value & 0xffff : value >>> 0;
  if (size === 2) {
    if (littleEndian) bytes.writeUInt16LE(v, at);
    else bytes.writeUInt16BE(v, at);
  } else if (littleEndian) bytes.writeUInt32LE(v, at);
  else bytes.writeUInt32BE(v, at);
}

function tagBytes(tag: number, littleEndian: boolean): Buffer {
  const out = Buffer.alloc(4);
  writeUint(out, 0, 2, tag >>> 16, littleEndian);
  writeUint(out, 2, 2, tag & 0xffff, littleEndian);
  return out;
}

function uint32(value: number, littleEndian: boolean): Buffer {
  const out = Buffer.alloc(4);
  writeUint(out, 0, 4, value, littleEndian);
  return out;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16).toUpperCase()}`;

/** Random bit flips, byte runs or a cut on bytes with no structure known (a second mutation stacked on a first). */
export function rawDamage(bytes: Buffer, random: Xorshift32, headerEnd: number): Mutation {
  const out = Buffer.from(bytes);
  switch (random.int(0, 2)) {
    case 0: {
      const flips = random.int(1, 8);
      for (let n = 0; n < flips && out.length > 0; n++) {
        const at = offsetIn(random, out.length, headerEnd);
        out[at] = (out[at] ?? 0) ^ (1 << random.int(0, 7));
      }
      return { bytes: out, detail: `${flips} bit flips` };
    }
    case 1: {
      const value = random.chance(0.5) ? 0x00 : 0xff;
      const run = random.int(1, 64);
      const at = offsetIn(random, out.length, headerEnd);
      out.fill(value, at, Math.min(out.length, at + run));
      return { bytes: out, detail: `run of ${run} × ${hex(value)} at ${at}` };
    }
    default: {
      const at = offsetIn(random, out.length, headerEnd);
      return { bytes: out.subarray(0, at), detail: `cut at ${at}` };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Mutators

export const bitFlip: DicomMutator = (seed, random) => {
  const s = surface(seed, random);
  const flips = random.pick([1, 1, 1, 2, 3, 4, 8, 16, 64]);
  let first = -1;
  for (let n = 0; n < flips; n++) {
    const at = offsetIn(random, s.bytes.length, s.headerEnd);
    if (first < 0) first = at;
    s.bytes[at] = (s.bytes[at] ?? 0) ^ (1 << random.int(0, 7));
  }
  return { bytes: s.done(s.bytes), detail: `${flips} bit flip(s) in the ${s.where}, first at ${first}` };
};

export const byteRun: DicomMutator = (seed, random) => {
  const s = surface(seed, random);
  const value = random.chance(0.5) ? 0x00 : 0xff;
  const run = random.chance(0.5) ? random.int(1, 8) : random.chance(0.7) ? random.int(9, 256) : random.int(257, 8192);
  const at = offsetIn(random, s.bytes.length, s.headerEnd);
  if (random.chance(0.7)) {
    s.bytes.fill(value, at, Math.min(s.bytes.length, at + run));
    return { bytes: s.done(s.bytes), detail: `${run} bytes of ${hex(value)} written over the ${s.where} at ${at}` };
  }
  const bytes = Buffer.concat([s.bytes.subarray(0, at), Buffer.alloc(run, value), s.bytes.subarray(at)]);
  return { bytes: s.done(bytes), detail: `${run} bytes of ${hex(value)} inserted into the ${s.where} at ${at}` };
};

export const truncate: DicomMutator = (seed, random) => {
  const s = surface(seed, random);
  let at: number;
  let how: string;
  if (s.where !== 'compressed file' && random.chance(0.5)) {
    const site = random.pick(seed.sites);
    const choice = random.int(0, 3);
    at = [site.offset, site.offset + random.int(1, site.headerBytes - 1), site.offset + site.headerBytes, random.int(site.offset + site.headerBytes, Math.max(site.offset + site.headerBytes, site.end))][choice] ?? site.offset;
    how = `${['before', 'inside the header of', 'after the header of', 'inside the value of'][choice]} ${tagText(site.tag)}`;
  } else {
    at = offsetIn(random, s.bytes.length, s.headerEnd);
    how = 'at a random offset';
  }
  at = Math.min(at, s.bytes.length);
  return { bytes: s.done(s.bytes.subarray(0, at)), detail: `${s.where} cut at ${at} (${how})` };
};

export const lengthField: DicomMutator = (seed, random) => {
  const bytes = Buffer.from(seed.plain);
  const rounds = random.chance(0.75) ? 1 : random.int(2, 3);
  const done: string[] = [];
  for (let r = 0; r < rounds; r++) {
    const site = random.pick(seed.sites);
    const valueStart = site.offset + site.headerBytes;
    const remaining = bytes.length - valueStart;
    const odd = site.length % 2 === 0 ? site.length + 1 : site.length + 2;
    const value = site.lengthBytes === 4
      ? random.pick([0, odd, random.int(0, 100) * 2 + 1, 0xfffffffe, UNDEFINED_LENGTH, UNDEFINED_LENGTH, remaining + random.int(1, 4096),
        Math.min(0xfffffff0, bytes.length * random.int(2, 1000)), 0x7fffffff, 0x80000000, random.next(), site.length + 2, Math.max(0, site.length - 2)])
      : random.pick([0, odd, 0xffff, 0xfffe, 0x8000, Math.min(0xffff, remaining + random.int(1, 100)), random.int(0, 0xffff), site.length + 2, Math.max(0, site.length - 2)]);
    writeUint(bytes, site.lengthOffset, site.lengthBytes, value, site.littleEndian);
    done.push(`${site.kind} ${tagText(site.tag)}${site.meta ? ' (meta)' : ''} at ${site.offset}: length ${site.length} → ${hex(value)}`);
  }
  return { bytes: finish(seed, bytes), detail: done.join('; ') };
};

export const tagVrSwap: DicomMutator = (seed, random) => {
  const bytes = Buffer.from(seed.plain);
  const elements = seed.sites.filter((s) => s.kind === 'element');
  const site = random.pick(elements);
  const kind = random.int(0, 5);
  if (kind === 0) {
    const peers = elements.filter((s) => s.depth === site.depth && s !== site);
    const other = peers.length > 0 ? random.pick(peers) : site;
    tagBytes(other.tag, other.littleEndian).copy(bytes, site.offset);
    tagBytes(site.tag, site.littleEndian).copy(bytes, other.offset);
    return { bytes: finish(seed, bytes), detail: `tags of ${tagText(site.tag)} and ${tagText(other.tag)} swapped` };
  }
  if (kind === 1 && site.explicitVr) {
    const vr = random.chance(0.6) ? random.pick(ALL_VRS) : random.pick(['SQ', 'UN', 'OB', 'UT', '\0\0', 'zz', '??', '  ', 'QS', 'ob']);
    bytes.write(vr, site.offset + 4, 'latin1');
    return { bytes: finish(seed, bytes), detail: `VR of ${tagText(site.tag)} ${site.vr ?? ''} → ${JSON.stringify(vr)}` };
  }
  if (kind <= 2) {
    const tag = random.pick([0x00020010, 0x00020000, ITEM, ITEM_DELIMITATION, SEQUENCE_DELIMITATION, PIXEL_DATA, 0x7fe00008, 0xfffcfffc, 0x00080018, 0x0020000d, 0x00000000, 0xffffffff, random.next()]);
    tagBytes(tag, site.littleEndian).copy(bytes, site.offset);
    return { bytes: finish(seed, bytes), detail: `tag ${tagText(site.tag)} → ${tagText(tag)}` };
  }
  if (kind === 3) {
    const next = seed.sites.find((s) => s.offset === site.end && s.depth === site.depth && s.kind === 'element');
    if (next) {
      const reordered = Buffer.concat([bytes.subarray(0, site.offset), bytes.subarray(next.offset, next.end), bytes.subarray(site.offset, site.end), bytes.subarray(next.end)]);
      return { bytes: finish(seed, reordered), detail: `${tagText(site.tag)} and ${tagText(next.tag)} swapped places` };
    }
  }
  if (kind === 4) {
    const duplicated = Buffer.concat([bytes.subarray(0, site.end), bytes.subarray(site.offset, site.end), bytes.subarray(site.end)]);
    return { bytes: finish(seed, duplicated), detail: `${tagText(site.tag)} duplicated` };
  }
  const removed = Buffer.concat([bytes.subarray(0, site.offset), bytes.subarray(site.end)]);
  return { bytes: finish(seed, removed), detail: `${tagText(site.tag)} removed` };
};

export const preambleDicm: DicomMutator = (seed, random) => {
  const file = seed.file;
  switch (random.int(0, 9)) {
    case 0:
      return { bytes: file.subarray(128), detail: 'preamble removed (starts with DICM)' };
    case 1:
      return { bytes: file.subarray(132), detail: 'preamble and DICM removed (starts with the meta group)' };
    case 2:
      return { bytes: seed.plain.subarray(seed.metaEnd), detail: 'preamble, DICM and meta group removed (a raw data set)' };
    case 3:
      return { bytes: Buffer.concat([file.subarray(0, 132), file]), detail: 'preamble and DICM duplicated' };
    case 4:
      return { bytes: Buffer.concat([file.subarray(0, seed.metaEnd), file]), detail: 'preamble, DICM and meta group duplicated' };
    case 5: {
      const word = random.pick(['DICN', 'dicm', 'MCID', '\0\0\0\0', 'DIC', 'DICMDICM']);
      return { bytes: Buffer.concat([file.subarray(0, 128), Buffer.from(word, 'latin1'), file.subarray(132)]), detail: `DICM → ${JSON.stringify(word)}` };
    }
    case 6: {
      const shift = random.int(1, 7);
      return { bytes: Buffer.concat([random.bytes(shift), file]), detail: `${shift} bytes inserted before the preamble` };
    }
    case 7: {
      const bytes = Buffer.from(file);
      const fill = random.pick(['random', 'DICM', 'TIFF', 'PK']);
      if (fill === 'random') random.bytes(128).copy(bytes, 0);
      else bytes.write(fill === 'DICM' ? 'DICM'.repeat(32) : fill === 'TIFF' ? 'II*\0' : 'PK\x03\x04', 0, 'latin1');
      return { bytes, detail: `preamble filled with ${fill}` };
    }
    case 8: {
      const at = random.pick([0, 1, 4, 127, 128, 131, 132, 133, 136, 140, 143, 144, 150]);
      return { bytes: file.subarray(0, at), detail: `cut to ${at} bytes` };
    }
    default:
      return { bytes: Buffer.concat([Buffer.from('DICM', 'latin1'), random.bytes(random.int(0, 512))]), detail: 'DICM then random bytes' };
  }
};

/** Rebuilds the meta group from its elements (group length first), fixing (0002,0000) when asked. */
function rebuildMeta(seed: DicomSeed, edit: (elements: Buffer[]) => Buffer[], fixGroupLength: boolean): Buffer {
  const metaSites = seed.sites.filter((s) => s.meta);
  const [groupLength, ...rest] = metaSites;
  if (!groupLength) throw new Error('seed has no meta group');
  const elements = edit(rest.map((s) => seed.file.subarray(s.offset, s.end)));
  const body = Buffer.concat(elements);
  const head = Buffer.from(seed.file.subarray(groupLength.offset, groupLength.end));
  if (fixGroupLength) head.writeUInt32LE(body.length, 8);
  return Buffer.concat([seed.file.subarray(0, 132), head, body, seed.file.subarray(seed.metaEnd)]);
}

function metaUid(tag: number, value: string): Buffer {
  const text = value.length % 2 ? `${value}\0` : value;
  const head = Buffer.alloc(8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  head.write('UI', 4, 'latin1');
  head.writeUInt16LE(text.length & 0xffff, 6);
  return Buffer.concat([head, Buffer.from(text, 'latin1')]);
}

export const metaHeader: DicomMutator = (seed, random) => {
  const metaSites = seed.sites.filter((s) => s.meta);
  switch (random.int(0, 4)) {
    case 0: {
      const bytes = Buffer.from(seed.file);
      const actual = seed.metaEnd - 144;
      const value = random.pick([0, 2, actual - 2, actual + 2, actual + random.int(1, 1000), 0xffffffff, 0x7fffffff, random.next()]);
      bytes.writeUInt32LE(value >>> 0, 140);
      return { bytes, detail: `meta group length ${actual} → ${hex(value)}` };
    }
    case 1: {
      const syntax = random.pick([IMPLICIT_LE, '1.2.840.10008.1.2.1', EXPLICIT_BE, DEFLATED_LE, '1.2.840.10008.1.2.5', '1.2.840.10008.1.2.4.50',
        '1.2.840.10008.1.2.4.94', '1.2.840.10008.1.2.1.98', '1.2.3.4', '', 'garbage!!', `1.2.${'9'.repeat(70)}`]);
      const fix = random.chance(0.8);
      const bytes = rebuildMeta(seed, (elements) => elements.map((e) => (e.readUInt16LE(2) === 0x0010 ? metaUid(0x00020010, syntax) : e)), fix);
      return { bytes, detail: `transfer syntax → ${JSON.stringify(syntax.slice(0, 24))}${fix ? '' : ' (group length not fixed)'}` };
    }
    case 2: {
      const victim = random.int(0, metaSites.length - 2);
      const fix = random.chance(0.7);
      const tag = metaSites[victim + 1]?.tag ?? 0;
      return { bytes: rebuildMeta(seed, (elements) => elements.filter((_, i) => i !== victim), fix), detail: `meta element ${tagText(tag)} removed${fix ? '' : ' (group length not fixed)'}` };
    }
    case 3: {
      const twin = random.int(0, metaSites.length - 2);
      const tag = metaSites[twin + 1]?.tag ?? 0;
      return { bytes: rebuildMeta(seed, (elements) => elements.flatMap((e, i) => (i === twin ? [e, e] : [e])), true), detail: `meta element ${tagText(tag)} duplicated` };
    }
    default: {
      const first = metaSites[0];
      if (!first) return { bytes: seed.file, detail: 'no meta group' };
      return { bytes: Buffer.concat([seed.file.subarray(0, 132), seed.file.subarray(first.end)]), detail: 'meta group length (0002,0000) removed' };
    }
  }
};

/** Headers of a nesting bomb in the seed's own syntax. */
function sequenceParts(syntax: DicomSyntax, vr: 'SQ' | 'UN') {
  const le = syntax.littleEndian;
  const seq = (tag: number, length: number) => (syntax.explicitVr
    ? Buffer.concat([tagBytes(tag, le), Buffer.from(vr, 'latin1'), Buffer.alloc(2), uint32(length, le)])
    : Buffer.concat([tagBytes(tag, le), uint32(length, le)]));
  const item = (length: number) => Buffer.concat([tagBytes(ITEM, le), uint32(length, le)]);
  const itemEnd = Buffer.concat([tagBytes(ITEM_DELIMITATION, le), uint32(0, le)]);
  const seqEnd = Buffer.concat([tagBytes(SEQUENCE_DELIMITATION, le), uint32(0, le)]);
  const leaf = syntax.explicitVr
    ? Buffer.concat([tagBytes(0x00081150, le), Buffer.from('UI', 'latin1'), (() => { const b = Buffer.alloc(2); writeUint(b, 0, 2, 6, le); return b; })(), Buffer.from('1.2.3\0', 'latin1')])
    : Buffer.concat([tagBytes(0x00081150, le), uint32(6, le), Buffer.from('1.2.3\0', 'latin1')]);
  return { seq, item, itemEnd, seqEnd, leaf };
}

export const sequenceBomb: DicomMutator = (seed, random) => {
  const BOMB_TAG = 0x00081140;
  // In tag order, as a real Referenced Image Sequence would sit (before anything with a higher tag).
  const top = seed.sites.filter((s) => !s.meta && s.depth === 0);
  const at = top.find((s) => s.tag > BOMB_TAG)?.offset ?? seed.plain.length;
  const vr = seed.syntax.explicitVr && random.chance(0.2) ? 'UN' : 'SQ';
  // A UN of undefined length holds implicit VR little endian whatever the syntax (PS3.5 §6.2.2).
  const inner: DicomSyntax = vr === 'UN' ? { explicitVr: false, littleEndian: true } : seed.syntax;
  const outer = sequenceParts(seed.syntax, vr);
  const parts = sequenceParts(inner, 'SQ');
  let bomb: Buffer;
  let detail: string;
  switch (random.int(0, 2)) {
    case 0: {
      const depth = random.pick([65, 300, 5_000, 50_000, 150_000]);
      const closing = random.pick(['closed', 'unclosed', 'half-closed'] as const);
      const open = Buffer.concat([parts.seq(BOMB_TAG, UNDEFINED_LENGTH), parts.item(UNDEFINED_LENGTH)]);
      const close = Buffer.concat([parts.itemEnd, parts.seqEnd]);
      const closes = closing === 'closed' ? depth : closing === 'half-closed' ? Math.floor(depth / 2) : 0;
      const head = Buffer.concat([outer.seq(BOMB_TAG, UNDEFINED_LENGTH), parts.item(UNDEFINED_LENGTH)]);
      bomb = Buffer.concat([head, Buffer.alloc(open.length * (depth - 1)).fill(open), parts.leaf, Buffer.alloc(close.length * closes).fill(close)]);
      detail = `${depth} nested undefined-length ${vr} sequences, ${closing}`;
      break;
    }
    case 1: {
      const depth = random.pick([65, 300, 5_000, 20_000]);
      // Inside out: every level's lengths are right, so only the depth is wrong.
      const pieces: Buffer[] = [parts.leaf];
      let length = parts.leaf.length;
      for (let level = 0; level < depth; level++) {
        const itemHead = parts.item(length);
        length += itemHead.length;
        const seqHead = level === depth - 1 ? outer.seq(BOMB_TAG, length) : parts.seq(BOMB_TAG, length);
        length += seqHead.length;
        pieces.push(itemHead, seqHead);
      }
      bomb = Buffer.concat(pieces.reverse());
      detail = `${depth} nested defined-length ${vr} sequences`;
      break;
    }
    default: {
      const items = random.pick([10_000, 100_000, 400_000]);
      const undefinedItems = random.chance(0.5);
      const one = undefinedItems ? Buffer.concat([parts.item(UNDEFINED_LENGTH), parts.itemEnd]) : parts.item(0);
      bomb = Buffer.concat([outer.seq(BOMB_TAG, UNDEFINED_LENGTH), Buffer.alloc(one.length * items).fill(one), parts.seqEnd]);
      detail = `one ${vr} sequence of ${items} empty ${undefinedItems ? 'undefined' : 'defined'}-length items`;
    }
  }
  const plain = Buffer.concat([seed.plain.subarray(0, at), bomb, seed.plain.subarray(at)]);
  return { bytes: finish(seed, plain), detail: `${detail} (${bomb.length} bytes) inserted at ${at}` };
};

export const deflateBomb: DicomMutator = (_seed, random, context) => {
  const bomb = random.pick(context.bombs);
  const bytes = Buffer.from(bomb.file);
  if (random.chance(0.3)) {
    const at = random.int(Math.floor(bytes.length / 2), bytes.length - 1);
    bytes[at] = (bytes[at] ?? 0) ^ (1 << random.int(0, 7));
    return { bytes, detail: `deflated data set inflating to ${bomb.inflatedBytes} bytes, a bit flipped at ${at}` };
  }
  return { bytes, detail: `deflated data set inflating to ${bomb.inflatedBytes} bytes (${bytes.length} stored)` };
};

export const splice: DicomMutator = (seed, random, context) => {
  const donor = random.pick(context.seeds);
  const from = offsetIn(random, donor.plain.length, donor.pixelData ?? donor.plain.length);
  const piece = donor.plain.subarray(from, Math.min(donor.plain.length, from + random.int(4, 512)));
  const s = surface(seed, random);
  const at = offsetIn(random, s.bytes.length, s.headerEnd);
  const spliced = random.chance(0.5)
    ? Buffer.concat([s.bytes.subarray(0, at), piece, s.bytes.subarray(at)])
    : Buffer.concat([s.bytes.subarray(0, at), piece, s.bytes.subarray(Math.min(s.bytes.length, at + piece.length))]);
  return { bytes: s.done(spliced), detail: `${piece.length} bytes of seed ${donor.name} from ${from} spliced into the ${s.where} at ${at}` };
};

/** A structural mutation, then one to three blind ones on its result. */
export const stacked: DicomMutator = (seed, random, context) => {
  const first = random.pick([lengthField, tagVrSwap, metaHeader, splice, byteRun])(seed, random, context);
  let bytes = first.bytes;
  const details = [first.detail];
  for (let n = random.int(1, 3); n > 0; n--) {
    const next = rawDamage(bytes, random, seed.pixelData ?? bytes.length);
    bytes = next.bytes;
    details.push(next.detail);
  }
  return { bytes, detail: details.join(' + ') };
};

/** Every DICOM mutator by name, as results and reports count them. */
export const DICOM_MUTATORS: Readonly<Record<string, DicomMutator>> = {
  'bit-flip': bitFlip,
  'byte-run': byteRun,
  truncate,
  'length-field': lengthField,
  'tag-vr-swap': tagVrSwap,
  'preamble-dicm': preambleDicm,
  'meta-header': metaHeader,
  'sequence-bomb': sequenceBomb,
  'deflate-bomb': deflateBomb,
  splice,
  stacked,
};

/** What a DICOMDIR (the index of a CD) is put through: the same, without the bombs made for images. */
export const DICOMDIR_MUTATORS: readonly DicomMutator[] = [bitFlip, byteRun, truncate, lengthField, tagVrSwap, preambleDicm, metaHeader, sequenceBomb, stacked];
