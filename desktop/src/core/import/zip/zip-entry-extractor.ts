import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createInflateRaw } from 'node:zlib';
import type { Entry } from 'yauzl';
import type { ErrorCode } from '../../../common/error-codes.js';
import type { EntryTally, ExpansionBudget } from './expansion-budget.js';
import { formatBytes } from './zip-limits.js';
import type { ZipArchive } from './zip-archive.js';

export type ExtractionOutcome =
  | { ok: true; bytes: number }
  /** `stopsArchive`: the rest of the archive must not be read (a cap was crossed, the disk failed). */
  | { ok: false; code: ErrorCode; reason: string; stopsArchive: boolean };

const DEFLATE = 8;

/** A cap was crossed: this entry and every later one are refused. */
class CapExceeded extends Error {}

/** The entry's data is not what its header promised; later entries may still be fine. */
class EntryDamaged extends Error {
  constructor(message: string, readonly code: ErrorCode) {
    super(message);
  }
}

/**
 * Streams one entry into `destination` (a new file), inflating it here rather than in yauzl so
 * that every decompressed chunk is counted against the budget before it reaches the disk, and
 * checking its length and CRC-32 at the end: yauzl checks neither the CRC nor, in raw mode, the
 * length, and a silently corrupted image must not reach a PACS. Memory stays at a few stream
 * buffers whatever the entry's size. On any failure the partial file is deleted.
 */
export async function extractEntry(archive: ZipArchive, entry: Entry, destination: string, budget: ExpansionBudget): Promise<ExtractionOutcome> {
  let raw: Readable;
  try {
    raw = await archive.openRaw(entry);
  } catch (error) {
    // A bad local header or data past the end of the file: this entry only.
    return { ok: false, code: 'ARCHIVE_REFUSED', reason: `the entry is damaged (${(error as Error).message})`, stopsArchive: false };
  }
  const meter = new MeteredStream(budget.tally({ compressedSize: entry.compressedSize, uncompressedSize: entry.uncompressedSize }), entry.uncompressedSize, entry.crc32);
  const out = createWriteStream(destination, { flags: 'wx' });
  let opened = false;
  out.once('open', () => { opened = true; });
  const stages = entry.compressionMethod === DEFLATE ? [raw, createInflateRaw(), meter, out] : [raw, meter, out];
  // pipeline destroys every stage with the first error, so only the first to fail tells where it
  // came from: the archive, the data, or the disk we write to.
  let firstToFail: unknown;
  for (const stage of stages) stage.once('error', () => { firstToFail ??= stage; });
  try {
    await pipeline(stages);
    return { ok: true, bytes: meter.bytes };
  } catch (error) {
    // Only a file this call created is ours to delete ('wx' refuses to open an existing one).
    if (opened) await rm(destination, { force: true }).catch(() => undefined);
    return failure(error, firstToFail === out);
  }
}

function failure(error: unknown, writing: boolean): ExtractionOutcome {
  if (error instanceof CapExceeded) {
    return { ok: false, code: 'ARCHIVE_REFUSED', reason: error.message, stopsArchive: true };
  }
  if (writing) {
    // Disk full or the temp area gone: every later entry would fail the same way.
    const { code, message } = error as NodeJS.ErrnoException;
    return { ok: false, code: 'INTERNAL', reason: `the entry could not be written to the app's temporary folder (${code ?? message})`, stopsArchive: true };
  }
  if (error instanceof EntryDamaged) {
    return { ok: false, code: error.code, reason: error.message, stopsArchive: false };
  }
  const { code, syscall } = error as NodeJS.ErrnoException;
  if (syscall !== undefined) {
    // The archive itself stopped being readable (share gone, disk error): so will the rest.
    return { ok: false, code: 'FILE_UNREADABLE', reason: `the archive could not be read any further (${code ?? syscall})`, stopsArchive: true };
  }
  if (code === 'Z_BUF_ERROR') {
    return { ok: false, code: 'FILE_TRUNCATED', reason: "the entry's compressed data ends early", stopsArchive: false };
  }
  // zlib data errors, yauzl range checks: the entry's bytes are corrupt.
  return { ok: false, code: 'ARCHIVE_REFUSED', reason: `the entry is damaged (${(error as Error).message})`, stopsArchive: false };
}

/** Counts, checks and checksums the decompressed bytes on their way to the file. */
class MeteredStream extends Transform {
  private crc = 0;

  constructor(private readonly tally: EntryTally, private readonly declaredSize: number, private readonly declaredCrc: number) {
    super();
  }

  get bytes(): number {
    return this.tally.bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const overCap = this.tally.add(chunk.length);
    if (overCap !== null) {
      callback(new CapExceeded(overCap));
      return;
    }
    this.crc = crc32(chunk, this.crc);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.tally.bytes < this.declaredSize) {
      callback(new EntryDamaged(`the entry ends early (${formatBytes(this.tally.bytes)} of ${formatBytes(this.declaredSize)})`, 'FILE_TRUNCATED'));
    } else if (this.crc !== this.declaredCrc) {
      callback(new EntryDamaged('the entry is damaged: its content does not match its CRC-32 checksum', 'ARCHIVE_REFUSED'));
    } else {
      callback();
    }
  }
}
