import { LONG_LENGTH_VRS, type ValueRepresentation } from './data-element.js';

/** The value length of an element or item that ends at a delimitation item (PS3.5 §7.1.1). */
export const UNDEFINED_LENGTH_VALUE = 0xffffffff;

/**
 * One data element header in explicit VR little endian (PS3.5 §7.1.2): tag, VR, then a 16-bit
 * length, or two reserved bytes and a 32-bit length for the VRs of Table 7.1-1.
 */
export function encodeElementHeader(tag: number, vr: ValueRepresentation, length: number): Buffer {
  const long = LONG_LENGTH_VRS.has(vr);
  if (!long && length > 0xffff) throw new RangeError(`a ${vr} value cannot hold ${length} bytes (PS3.5 §7.1.2: 16-bit length)`);
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(length, 8);
  else header.writeUInt16LE(length, 6);
  return header;
}

/** A whole element, explicit VR little endian; the value must already be of even length (PS3.5 §7.1.1). */
export function encodeElement(tag: number, vr: ValueRepresentation, value: Buffer): Buffer {
  if (value.length % 2 === 1) throw new RangeError(`the value of a ${vr} element must have an even length (PS3.5 §7.1.1)`);
  return Buffer.concat([encodeElementHeader(tag, vr, value.length), value]);
}

/** An item or delimiter header (PS3.5 §7.5): (FFFE,E000) Item, (FFFE,E00D), (FFFE,E0DD); no VR in any syntax. */
export function encodeItemHeader(tag: number, length: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.writeUInt32LE(length, 4);
  return header;
}

/**
 * A string value padded to even length (PS3.5 §6.2): UI with a NUL, every other string VR with a
 * space. `encoding` is how the Specific Character Set (0008,0005) says text is written.
 */
export function paddedText(text: string, vr: ValueRepresentation, encoding: 'latin1' | 'utf8' = 'latin1'): Buffer {
  const bytes = Buffer.from(text, vr === 'UI' ? 'latin1' : encoding);
  return bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.from(vr === 'UI' ? '\0' : ' ', 'latin1')]);
}
