import { open } from 'node:fs/promises';
import { createDeflateRaw, crc32, deflateRawSync } from 'node:zlib';

/**
 * Writes ZIP files byte by byte (APPNOTE.TXT 4.3), for the archives no well-behaved library will
 * make: names with `..` or drive letters, symbolic links, encryption flags, sizes that lie, entries
 * sharing data, and ZIP64 archives over 4 GiB whose big entry is a hole in a sparse file, so they
 * cost almost nothing on disk.
 */
export interface ZipEntrySpec {
  /** Written as UTF-8 (flagged as such when not ASCII), backslashes and all. */
  name: string;
  /** 0 Store, 8 Deflate, anything else to test refusal. */
  method: number;
  /** The bytes stored in the archive (already deflated for method 8)... */
  data?: Buffer;
  /** ...or that many zero bytes left as a hole in a sparse file (Store). */
  holeBytes?: number;
  crc32: number;
  /** What the headers declare; lie freely. */
  uncompressedSize: number;
  flags?: number;
  externalAttributes?: number;
  /** High byte: the host system (3 = Unix); low byte: the spec version (APPNOTE 4.4.2). */
  versionMadeBy?: number;
  /** Sizes and offset go in a ZIP64 extended information field (APPNOTE 4.5.3). */
  zip64?: boolean;
  /** This entry's directory record points at an earlier entry's local header and data. */
  sameDataAs?: number;
}

export function storedEntry(name: string, content: Buffer, extra: Partial<ZipEntrySpec> = {}): ZipEntrySpec {
  return { name, method: 0, data: content, crc32: crc32(content), uncompressedSize: content.length, ...extra };
}

export function deflatedEntry(name: string, content: Buffer, extra: Partial<ZipEntrySpec> = {}): ZipEntrySpec {
  return { name, method: 8, data: deflateRawSync(content), crc32: crc32(content), uncompressedSize: content.length, ...extra };
}

/** `bytes` zeros, deflated as a stream: a 1 GiB bomb in about 1 MiB, never held whole in memory. */
export async function deflatedZerosEntry(name: string, bytes: number, extra: Partial<ZipEntrySpec> = {}): Promise<ZipEntrySpec> {
  const chunk = Buffer.alloc(1024 * 1024);
  const deflate = createDeflateRaw({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (part: Buffer) => parts.push(part));
  const done = new Promise((resolve, reject) => deflate.once('end', resolve).once('error', reject));
  let crc = 0;
  for (let written = 0; written < bytes; written += chunk.length) {
    const piece = chunk.subarray(0, Math.min(chunk.length, bytes - written));
    crc = crc32(piece, crc);
    if (!deflate.write(piece)) await new Promise((resolve) => deflate.once('drain', resolve));
  }
  deflate.end();
  await done;
  return { name, method: 8, data: Buffer.concat(parts), crc32: crc, uncompressedSize: bytes, ...extra };
}

/** A Store entry of `bytes` zeros that is a hole on disk. */
export function zerosEntry(name: string, bytes: number, extra: Partial<ZipEntrySpec> = {}): ZipEntrySpec {
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  let crc = 0;
  for (let done = 0; done < bytes; done += chunk.length) crc = crc32(chunk.subarray(0, Math.min(chunk.length, bytes - done)), crc);
  return { name, method: 0, holeBytes: bytes, crc32: crc, uncompressedSize: bytes, zip64: bytes >= 0xffffffff, ...extra };
}

const DOS_DATE = ((2025 - 1980) << 9) | (1 << 5) | 1;
const MAX32 = 0xffffffff;

export async function writeZip(path: string, entries: readonly ZipEntrySpec[], options: { zip64?: boolean } = {}): Promise<void> {
  const file = await open(path, 'w');
  try {
    let position = 0;
    const write = async (buffer: Buffer): Promise<void> => {
      await file.write(buffer, 0, buffer.length, position);
      position += buffer.length;
    };
    const placed: { offset: number; compressedSize: number }[] = [];
    for (const entry of entries) {
      if (entry.sameDataAs !== undefined) {
        placed.push(placed[entry.sameDataAs]!);
        continue;
      }
      const compressedSize = entry.data?.length ?? entry.holeBytes ?? 0;
      const offset = position;
      await write(localHeader(entry, compressedSize));
      if (entry.data) await write(entry.data);
      else position += entry.holeBytes ?? 0;
      placed.push({ offset, compressedSize });
    }
    const directoryOffset = position;
    for (const [i, entry] of entries.entries()) await write(centralHeader(entry, placed[i]!.offset, placed[i]!.compressedSize));
    const directorySize = position - directoryOffset;
    const zip64 = options.zip64 === true || directoryOffset >= MAX32 || entries.length >= 0xffff;
    if (zip64) {
      const record = Buffer.alloc(56);
      record.writeUInt32LE(0x06064b50, 0);
      record.writeBigUInt64LE(44n, 4);
      record.writeUInt16LE(45, 12);
      record.writeUInt16LE(45, 14);
      record.writeBigUInt64LE(BigInt(entries.length), 24);
      record.writeBigUInt64LE(BigInt(entries.length), 32);
      record.writeBigUInt64LE(BigInt(directorySize), 40);
      record.writeBigUInt64LE(BigInt(directoryOffset), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(0x07064b50, 0);
      locator.writeBigUInt64LE(BigInt(position), 8);
      locator.writeUInt32LE(1, 16);
      await write(record);
      await write(locator);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(zip64 ? 0xffff : entries.length, 8);
    end.writeUInt16LE(zip64 ? 0xffff : entries.length, 10);
    end.writeUInt32LE(zip64 ? MAX32 : directorySize, 12);
    end.writeUInt32LE(zip64 ? MAX32 : directoryOffset, 16);
    await write(end);
  } finally {
    await file.close();
  }
}

function nameBytes(entry: ZipEntrySpec): { bytes: Buffer; utf8Flag: number } {
  const bytes = Buffer.from(entry.name, 'utf8');
  return { bytes, utf8Flag: /^[\x20-\x7e]*$/.test(entry.name) ? 0 : 0x800 };
}

function localHeader(entry: ZipEntrySpec, compressedSize: number): Buffer {
  const { bytes, utf8Flag } = nameBytes(entry);
  const extra = entry.zip64 ? zip64Field([entry.uncompressedSize, compressedSize]) : Buffer.alloc(0);
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(entry.zip64 ? 45 : 20, 4);
  header.writeUInt16LE((entry.flags ?? 0) | utf8Flag, 6);
  header.writeUInt16LE(entry.method, 8);
  header.writeUInt16LE(DOS_DATE, 12);
  header.writeUInt32LE(entry.crc32 >>> 0, 14);
  header.writeUInt32LE(entry.zip64 ? MAX32 : compressedSize, 18);
  header.writeUInt32LE(entry.zip64 ? MAX32 : entry.uncompressedSize, 22);
  header.writeUInt16LE(bytes.length, 26);
  header.writeUInt16LE(extra.length, 28);
  return Buffer.concat([header, bytes, extra]);
}

function centralHeader(entry: ZipEntrySpec, offset: number, compressedSize: number): Buffer {
  const { bytes, utf8Flag } = nameBytes(entry);
  const extra = entry.zip64 ? zip64Field([entry.uncompressedSize, compressedSize, offset]) : Buffer.alloc(0);
  const header = Buffer.alloc(46);
  header.writeUInt32LE(0x02014b50, 0);
  header.writeUInt16LE(entry.versionMadeBy ?? 0x031e, 4);
  header.writeUInt16LE(entry.zip64 ? 45 : 20, 6);
  header.writeUInt16LE((entry.flags ?? 0) | utf8Flag, 8);
  header.writeUInt16LE(entry.method, 10);
  header.writeUInt16LE(DOS_DATE, 14);
  header.writeUInt32LE(entry.crc32 >>> 0, 16);
  header.writeUInt32LE(entry.zip64 ? MAX32 : compressedSize, 20);
  header.writeUInt32LE(entry.zip64 ? MAX32 : entry.uncompressedSize, 24);
  header.writeUInt16LE(bytes.length, 28);
  header.writeUInt16LE(extra.length, 30);
  header.writeUInt32LE((entry.externalAttributes ?? (0o100644 << 16)) >>> 0, 38);
  header.writeUInt32LE(entry.zip64 ? MAX32 : offset, 42);
  return Buffer.concat([header, bytes, extra]);
}

function zip64Field(values: readonly number[]): Buffer {
  const field = Buffer.alloc(4 + 8 * values.length);
  field.writeUInt16LE(0x0001, 0);
  field.writeUInt16LE(8 * values.length, 2);
  values.forEach((value, i) => field.writeBigUInt64LE(BigInt(value), 4 + 8 * i));
  return field;
}
