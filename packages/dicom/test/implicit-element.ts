/** An implicit VR little endian element (PS3.5 §7.1.3): tag, 32-bit length (the value's, unless given), value. The package has no writer for it: tests build it here. */
export function implicit(tag: number, value: Buffer, length = value.length): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.writeUInt32LE(length, 4);
  return Buffer.concat([header, value]);
}
