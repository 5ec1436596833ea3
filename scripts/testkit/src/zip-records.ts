// ZIP records byte by byte (APPNOTE.TXT 4.3), shared by the tests' archive writer
// (desktop/test/core/import/zip/zip-builder.ts, archives on disk with sparse holes) and the fuzzer's
// in-memory one (faults/zip-mutators.ts). Values are written as given: sizes and flags may lie.

export const ZIP_SIGNATURES = {
  local: 0x04034b50,
  central: 0x02014b50,
  end: 0x06054b50,
  end64: 0x06064b50,
  locator64: 0x07064b50,
} as const;
/** 0xFFFFFFFF: the 32-bit field's "see the ZIP64 field" value. */
export const ZIP_MAX32 = 0xffffffff;
const DOS_DATE = ((2025 - 1980) << 9) | (1 << 5) | 1;

export interface ZipRecordEntry {
  /** A string is written as UTF-8 and flagged as such when not ASCII (APPNOTE 4.4.4 bit 11); bytes go as they are. */
  name: string | Buffer;
  /** 0 Store, 8 Deflate, anything else to test refusal. */
  method: number;
  crc32: number;
  /** What the headers declare. */
  uncompressedSize: number;
  compressedSize: number;
  flags?: number;
  externalAttributes?: number;
  /** High byte: the host system (3 = Unix); low byte: the spec version (APPNOTE 4.4.2). */
  versionMadeBy?: number;
  /** Sizes (and, in the directory, the offset) go in a ZIP64 extended information field (APPNOTE 4.5.3). */
  zip64?: boolean;
}

/** The local file header with its name and extra field; the data follows it. */
export function zipLocalHeader(entry: ZipRecordEntry): Buffer {
  const { bytes, utf8Flag } = nameBytes(entry.name);
  const extra = entry.zip64 ? zip64Field([entry.uncompressedSize, entry.compressedSize]) : Buffer.alloc(0);
  const header = Buffer.alloc(30);
  header.writeUInt32LE(ZIP_SIGNATURES.local, 0);
  header.writeUInt16LE(entry.zip64 ? 45 : 20, 4);
  header.writeUInt16LE((entry.flags ?? 0) | utf8Flag, 6);
  header.writeUInt16LE(entry.method, 8);
  header.writeUInt16LE(DOS_DATE, 12);
  header.writeUInt32LE(entry.crc32 >>> 0, 14);
  header.writeUInt32LE(entry.zip64 ? ZIP_MAX32 : entry.compressedSize, 18);
  header.writeUInt32LE(entry.zip64 ? ZIP_MAX32 : entry.uncompressedSize, 22);
  header.writeUInt16LE(bytes.length, 26);
  header.writeUInt16LE(extra.length, 28);
  return Buffer.concat([header, bytes, extra]);
}

/** The central directory record of an entry whose local header is at `offset`. */
export function zipCentralHeader(entry: ZipRecordEntry, offset: number): Buffer {
  const { bytes, utf8Flag } = nameBytes(entry.name);
  const extra = entry.zip64 ? zip64Field([entry.uncompressedSize, entry.compressedSize, offset]) : Buffer.alloc(0);
  const header = Buffer.alloc(46);
  header.writeUInt32LE(ZIP_SIGNATURES.central, 0);
  header.writeUInt16LE(entry.versionMadeBy ?? 0x031e, 4);
  header.writeUInt16LE(entry.zip64 ? 45 : 20, 6);
  header.writeUInt16LE((entry.flags ?? 0) | utf8Flag, 8);
  header.writeUInt16LE(entry.method, 10);
  header.writeUInt16LE(DOS_DATE, 14);
  header.writeUInt32LE(entry.crc32 >>> 0, 16);
  header.writeUInt32LE(entry.zip64 ? ZIP_MAX32 : entry.compressedSize, 20);
  header.writeUInt32LE(entry.zip64 ? ZIP_MAX32 : entry.uncompressedSize, 24);
  header.writeUInt16LE(bytes.length, 28);
  header.writeUInt16LE(extra.length, 30);
  header.writeUInt32LE((entry.externalAttributes ?? (0o100644 << 16)) >>> 0, 38);
  header.writeUInt32LE(entry.zip64 ? ZIP_MAX32 : offset, 42);
  return Buffer.concat([header, bytes, extra]);
}

/**
 * What follows the central directory: with `zip64`, the ZIP64 end record and its locator, then the
 * end of central directory record, whose 32-bit fields then say "see ZIP64".
 */
export function zipEndRecords(entries: number, directoryOffset: number, directorySize: number, zip64: boolean): Buffer {
  const parts: Buffer[] = [];
  if (zip64) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(ZIP_SIGNATURES.end64, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE(45, 12);
    record.writeUInt16LE(45, 14);
    record.writeBigUInt64LE(BigInt(entries), 24);
    record.writeBigUInt64LE(BigInt(entries), 32);
    record.writeBigUInt64LE(BigInt(directorySize), 40);
    record.writeBigUInt64LE(BigInt(directoryOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(ZIP_SIGNATURES.locator64, 0);
    locator.writeBigUInt64LE(BigInt(directoryOffset + directorySize), 8);
    locator.writeUInt32LE(1, 16);
    parts.push(record, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(ZIP_SIGNATURES.end, 0);
  end.writeUInt16LE(zip64 ? 0xffff : entries, 8);
  end.writeUInt16LE(zip64 ? 0xffff : entries, 10);
  end.writeUInt32LE(zip64 ? ZIP_MAX32 : directorySize, 12);
  end.writeUInt32LE(zip64 ? ZIP_MAX32 : directoryOffset, 16);
  parts.push(end);
  return Buffer.concat(parts);
}

function nameBytes(name: string | Buffer): { bytes: Buffer; utf8Flag: number } {
  if (typeof name !== 'string') return { bytes: name, utf8Flag: 0 };
  return { bytes: Buffer.from(name, 'utf8'), utf8Flag: /^[\x20-\x7e]*$/.test(name) ? 0 : 0x800 };
}

function zip64Field(values: readonly number[]): Buffer {
  const field = Buffer.alloc(4 + 8 * values.length);
  field.writeUInt16LE(0x0001, 0);
  field.writeUInt16LE(8 * values.length, 2);
  values.forEach((value, i) => field.writeBigUInt64LE(BigInt(value), 4 + 8 * i));
  return field;
}
