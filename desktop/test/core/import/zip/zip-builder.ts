import { open } from 'node:fs/promises';
import { createDeflateRaw, crc32, deflateRawSync } from 'node:zlib';
import { zipCentralHeader, zipEndRecords, zipLocalHeader, ZIP_MAX32 } from '@relaypacs/testkit';

/**
 * Writes ZIP files byte by byte (APPNOTE.TXT 4.3), for the archives no well-behaved library will
 * make: names with `..` or drive letters, symbolic links, encryption flags, sizes that lie, entries
 * sharing data, and ZIP64 archives over 4 GiB whose big entry is a hole in a sparse file, so they
 * cost almost nothing on disk. The records themselves come from the testkit's zip-records.ts.
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
      await write(zipLocalHeader({ ...entry, compressedSize }));
      if (entry.data) await write(entry.data);
      else position += entry.holeBytes ?? 0;
      placed.push({ offset, compressedSize });
    }
    const directoryOffset = position;
    for (const [i, entry] of entries.entries()) await write(zipCentralHeader({ ...entry, compressedSize: placed[i]!.compressedSize }, placed[i]!.offset));
    const directorySize = position - directoryOffset;
    const zip64 = options.zip64 === true || directoryOffset >= ZIP_MAX32 || entries.length >= 0xffff;
    await write(zipEndRecords(entries.length, directoryOffset, directorySize, zip64));
  } finally {
    await file.close();
  }
}
