/**
 * Hand-assembles Part 10 files element by element for the cases the study generator cannot make:
 * sequences of every length form, encapsulated pixel data, odd lengths, padding variants and
 * deliberate corruption. Byte-exact on purpose: no padding or length is fixed up behind the test.
 */

export type Syntax = 'implicit-le' | 'explicit-le' | 'explicit-be';

export const UNDEFINED = 0xffffffff;
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

export const TS = {
  implicitLe: '1.2.840.10008.1.2',
  explicitLe: '1.2.840.10008.1.2.1',
  deflatedLe: '1.2.840.10008.1.2.1.99',
  explicitBe: '1.2.840.10008.1.2.2',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpeg2000: '1.2.840.10008.1.2.4.90',
  rle: '1.2.840.10008.1.2.5',
} as const;

function tagBytes(tag: number, syntax: Syntax): Buffer {
  const out = Buffer.alloc(4);
  if (syntax === 'explicit-be') {
    out.writeUInt16BE(tag >>> 16, 0);
    out.writeUInt16BE(tag & 0xffff, 2);
  } else {
    out.writeUInt16LE(tag >>> 16, 0);
    out.writeUInt16LE(tag & 0xffff, 2);
  }
  return out;
}

function uint32(value: number, syntax: Syntax): Buffer {
  const out = Buffer.alloc(4);
  if (syntax === 'explicit-be') out.writeUInt32BE(value >>> 0, 0);
  else out.writeUInt32LE(value >>> 0, 0);
  return out;
}

/** One data element; `length` overrides the value's real length (for undefined or lying lengths). */
export function element(tag: number, vr: string, value: Buffer | string, syntax: Syntax, length?: number): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  const declared = length ?? bytes.length;
  if (syntax === 'implicit-le') return Buffer.concat([tagBytes(tag, syntax), uint32(declared, syntax), bytes]);
  if (LONG_VRS.has(vr)) return Buffer.concat([tagBytes(tag, syntax), Buffer.from(vr, 'latin1'), Buffer.alloc(2), uint32(declared, syntax), bytes]);
  const len = Buffer.alloc(2);
  if (syntax === 'explicit-be') len.writeUInt16BE(declared, 0);
  else len.writeUInt16LE(declared, 0);
  return Buffer.concat([tagBytes(tag, syntax), Buffer.from(vr, 'latin1'), len, bytes]);
}

/** A UI value padded to even length with one NUL (PS3.5 §9.1), or with `pad` when given. */
export function uid(tag: number, value: string, syntax: Syntax, pad = '\0'): Buffer {
  return element(tag, 'UI', value.length % 2 ? value + pad : value, syntax);
}

/** A text value padded to even length with a space. */
export function text(tag: number, vr: string, value: string, syntax: Syntax): Buffer {
  return element(tag, vr, value.length % 2 ? `${value} ` : value, syntax);
}

export function us(tag: number, value: number, syntax: Syntax): Buffer {
  const bytes = Buffer.alloc(2);
  if (syntax === 'explicit-be') bytes.writeUInt16BE(value, 0);
  else bytes.writeUInt16LE(value, 0);
  return element(tag, 'US', bytes, syntax);
}

function delimiter(tag: number, syntax: Syntax): Buffer {
  return Buffer.concat([tagBytes(tag, syntax), uint32(0, syntax)]);
}

/** An item around `content`; undefined length adds an Item Delimitation Item (PS3.5 §7.5). */
export function item(content: Buffer, syntax: Syntax, undefinedLength = false): Buffer {
  if (!undefinedLength) return Buffer.concat([tagBytes(0xfffee000, syntax), uint32(content.length, syntax), content]);
  return Buffer.concat([tagBytes(0xfffee000, syntax), uint32(UNDEFINED, syntax), content, delimiter(0xfffee00d, syntax)]);
}

/** A sequence of items; undefined length adds a Sequence Delimitation Item. */
export function sequence(tag: number, items: Buffer[], syntax: Syntax, undefinedLength = false, vr = 'SQ'): Buffer {
  const body = Buffer.concat(items);
  if (!undefinedLength) return element(tag, vr, body, syntax);
  return element(tag, vr, Buffer.concat([body, delimiter(0xfffee0dd, syntax)]), syntax, UNDEFINED);
}

/** Encapsulated pixel data: an empty basic offset table, then one item per fragment (PS3.5 §A.4). */
export function encapsulatedPixelData(fragments: Buffer[], syntax: Syntax, tag = 0x7fe00010): Buffer {
  const items = [item(Buffer.alloc(0), syntax), ...fragments.map((f) => item(f, syntax))];
  return element(tag, 'OB', Buffer.concat([...items, delimiter(0xfffee0dd, syntax)]), syntax, UNDEFINED);
}

export interface MetaSpec {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  /** Overrides (0002,0000); the real length is used otherwise. */
  groupLength?: number;
  pad?: string;
}

/** Preamble, "DICM" and a File Meta Information group in explicit VR little endian (PS3.10 §7.1). */
export function fileMeta(spec: MetaSpec): Buffer {
  const pad = spec.pad ?? '\0';
  const elements = Buffer.concat([
    element(0x00020001, 'OB', Buffer.from([0, 1]), 'explicit-le'),
    uid(0x00020002, spec.sopClassUid, 'explicit-le', pad),
    uid(0x00020003, spec.sopInstanceUid, 'explicit-le', pad),
    uid(0x00020010, spec.transferSyntaxUid, 'explicit-le', pad),
    uid(0x00020012, '1.2.826.0.1.3680043.10.1078.1', 'explicit-le'),
  ]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(spec.groupLength ?? elements.length, 0);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), element(0x00020000, 'UL', length, 'explicit-le'), elements]);
}

export interface InstanceIds {
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
}

export const SAMPLE_IDS: InstanceIds = {
  sopClassUid: '1.2.840.10008.5.1.4.1.1.7',
  sopInstanceUid: '1.2.826.0.1.3680043.10.1078.2.1',
  studyInstanceUid: '1.2.826.0.1.3680043.10.1078.3',
};

/**
 * The top-level elements a minimal instance needs, in tag order, with `middle` spliced in after
 * the study UID (sequences, odd values, …) and `tail` (usually pixel data) at the end.
 */
export function dataSet(ids: InstanceIds, syntax: Syntax, parts: { beforeUids?: Buffer[]; middle?: Buffer[]; tail?: Buffer[]; pad?: string } = {}): Buffer {
  const pad = parts.pad ?? '\0';
  return Buffer.concat([
    text(0x00080005, 'CS', 'ISO_IR 100', syntax),
    ...(parts.beforeUids ?? []),
    uid(0x00080016, ids.sopClassUid, syntax, pad),
    uid(0x00080018, ids.sopInstanceUid, syntax, pad),
    text(0x00080060, 'CS', 'OT', syntax),
    uid(0x0020000d, ids.studyInstanceUid, syntax, pad),
    uid(0x0020000e, `${ids.studyInstanceUid}.1`, syntax, pad),
    ...(parts.middle ?? []),
    ...(parts.tail ?? []),
  ]);
}

/** Image Pixel module attributes (PS3.3 §C.7.6.3) and a small native Pixel Data. */
export function nativeImage(syntax: Syntax, rows = 4, columns = 4): Buffer[] {
  return [
    us(0x00280002, 1, syntax),
    text(0x00280004, 'CS', 'MONOCHROME2', syntax),
    us(0x00280010, rows, syntax),
    us(0x00280011, columns, syntax),
    us(0x00280100, 8, syntax),
    us(0x00280101, 8, syntax),
    us(0x00280102, 7, syntax),
    us(0x00280103, 0, syntax),
    element(0x7fe00010, 'OB', Buffer.alloc(rows * columns + ((rows * columns) % 2), 0x80), syntax),
  ];
}

/** A whole instance: meta header for `transferSyntaxUid` and the given data set bytes. */
export function part10(ids: InstanceIds, transferSyntaxUid: string, dataSetBytes: Buffer, meta: Partial<MetaSpec> = {}): Buffer {
  return Buffer.concat([fileMeta({ sopClassUid: ids.sopClassUid, sopInstanceUid: ids.sopInstanceUid, transferSyntaxUid, ...meta }), dataSetBytes]);
}
