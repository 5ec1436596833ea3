import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rm, statfs, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FreeSpace } from './free-space.js';
import { fsyncDirectory } from './fsync-directory.js';
import { SharedSync } from './shared-sync.js';
import { OverlongWriteError, ShortWriteError, type ByteSink, type PieceRange, type RoomFor, type SpaceClaim, type TemporaryStorage, type WrittenPiece } from './storage.js';

/** What an upload id may be (every storage checks it: ids reach it through URLs, and must never name a path or a key prefix). */
export const UPLOAD_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** How much of an instance's beginning a write keeps for the header check: the meta header and the data set's first elements. */
const HEAD_BYTES = 64 * 1024;
/** Reads go in steps of this many bytes: few system calls, and a bounded buffer per stream. */
const READ_BYTES = 1024 * 1024;

/**
 * The floors of free disk space (the relay's upload configuration). Read at every decision: the
 * configuration object may be changed on a running relay.
 */
export interface DiskFloors {
  /** A new upload must leave this much free, with what admitted uploads still have to receive. */
  minFreeDiskBytes: number;
  /** Kept free for the database: no chunk takes it. */
  reserveDiskBytes: number;
}

/**
 * Temporary storage on the local disk: DATA/uploads/<upload id>/<index>.<offset>.piece, one file per
 * piece (per chunk received). An instance received in one chunk is one file, written in one go.
 * A piece is written straight under its name (no rename: the database, not the name, says which
 * pieces count), then fdatasynced, and its folder entry fsynced (shared by the pieces created
 * meanwhile) before the write resolves. Relays before pieces kept each instance in one sparse file,
 * <index>.part, every chunk at its offset: a recorded piece without its own file is read from there,
 * so uploads in progress and studies awaiting delivery survive an upgrade.
 */
export class LocalDiskStorage implements TemporaryStorage {
  /**
   * Upload folders created by this process, each with the fsync of its directory entries shared by
   * the files created in it at the same time (SharedSync): thousands of small instances then cost
   * neither a mkdir nor a directory fsync each.
   */
  private readonly folders = new Map<string, Promise<{ dir: string; entries: SharedSync }>>();
  /** Free space where pieces are written, for hasRoom and admit. */
  private readonly space: FreeSpace;

  constructor(private readonly root: string, private readonly floors: DiskFloors = { minFreeDiskBytes: 0, reserveDiskBytes: 0 }) {
    this.space = new FreeSpace(() => this.freeBytes());
  }

  async writePiece(uploadId: string, index: number, piece: PieceRange, source: Readable, alsoHash?: ByteSink): Promise<WrittenPiece> {
    const folder = await this.folder(uploadId);
    const path = this.piecePath(uploadId, index, piece.offset);
    let written;
    try {
      // 'w' truncates what an earlier, unrecorded write of this piece left.
      written = await streamInto(await open(path, 'w', 0o600), piece, source, alsoHash);
    } catch (error) {
      // Nothing of it is recorded, so none of it is needed: a file left behind would only hold
      // space, which on a full disk (ENOSPC) is what the other chunks are waiting for.
      await rm(path, { force: true }).catch(() => undefined);
      throw error;
    }
    await folder.entries.request();
    return written;
  }

  readRange(uploadId: string, index: number, pieces: readonly PieceRange[], start: number, end: number): Readable {
    return Readable.from(this.readPieces(uploadId, index, pieces, start, end), { objectMode: false, highWaterMark: READ_BYTES });
  }

  async feedRange(uploadId: string, index: number, pieces: readonly PieceRange[], start: number, end: number, sink: ByteSink): Promise<void> {
    for await (const bytes of this.readPieces(uploadId, index, pieces, start, end, Buffer.allocUnsafe(READ_BYTES))) sink.update(bytes);
  }

  /**
   * The bytes [start, end) over `pieces`, read in steps of up to READ_BYTES: into `reused` when given
   * (each step is overwritten by the next), else into a new buffer each (the consumer may keep it).
   */
  private async *readPieces(uploadId: string, index: number, pieces: readonly PieceRange[], start: number, end: number, reused?: Buffer): AsyncGenerator<Buffer> {
    let position = start;
    for (const piece of [...pieces].sort((a, b) => a.offset - b.offset)) {
      const pieceEnd = piece.offset + piece.length;
      if (pieceEnd <= position || position >= end) continue;
      if (piece.offset > position) throw new Error(`instance ${index} of upload ${uploadId} holds no piece for bytes ${position}-${piece.offset}`);
      const { handle, base } = await this.openPiece(uploadId, index, piece.offset);
      try {
        const stop = Math.min(pieceEnd, end);
        while (position < stop) {
          const step = Math.min(READ_BYTES, stop - position);
          const buffer = reused ? reused.subarray(0, step) : Buffer.allocUnsafe(step);
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position - base);
          if (bytesRead === 0) throw new Error(`the piece at ${piece.offset} of instance ${index} of upload ${uploadId} is shorter than recorded`);
          position += bytesRead;
          yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
        }
      } finally {
        await handle.close();
      }
    }
    if (position < end) throw new Error(`instance ${index} of upload ${uploadId} holds no piece for bytes ${position}-${end}`);
  }

  /** A piece's file, and the instance offset of its first byte (0 for the sparse file of relays before pieces). */
  private async openPiece(uploadId: string, index: number, offset: number): Promise<{ handle: FileHandle; base: number }> {
    try {
      return { handle: await open(this.piecePath(uploadId, index, offset), 'r'), base: offset };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      try {
        return { handle: await open(join(this.uploadDir(uploadId), `${index}.part`), 'r'), base: 0 };
      } catch {
        throw error;
      }
    }
  }

  async hasRoom(bytes: number, roomFor: RoomFor): Promise<boolean> {
    await this.space.refresh(true);
    return this.space.fits(bytes, this.floor(roomFor));
  }

  async admit(bytes: number): Promise<SpaceClaim | undefined> {
    const floor = this.floor('chunk');
    await this.space.refresh();
    let release = this.space.tryClaim(bytes, floor);
    if (!release) {
      // The reading may predate space a delivery freed: look again before refusing.
      await this.space.refresh(true);
      release = this.space.tryClaim(bytes, floor);
    }
    return release && { release };
  }

  /**
   * 'chunk': the database's reserve, so the relay's own writes never take the last bytes SQLite
   * needs to record chunks, verifications and deliveries. 'new-upload': the larger of both floors.
   */
  private floor(roomFor: RoomFor): number {
    const { minFreeDiskBytes, reserveDiskBytes } = this.floors;
    return roomFor === 'chunk' ? reserveDiskBytes : Math.max(minFreeDiskBytes, reserveDiskBytes);
  }

  private async freeBytes(): Promise<number> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const stats = await statfs(this.root);
    return stats.bavail * stats.bsize;
  }

  async deleteUpload(uploadId: string): Promise<void> {
    const dir = this.uploadDir(uploadId);
    this.folders.delete(dir);
    await rm(dir, { recursive: true, force: true });
  }

  async listUploads(): Promise<string[]> {
    try {
      return (await readdir(this.root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** Nothing stays open between calls: every file is closed when its write or read ends. */
  async close(): Promise<void> {}

  private uploadDir(uploadId: string): string {
    // Upload ids come from the relay, but they also reach us through URLs: never let one be a path.
    if (!UPLOAD_ID.test(uploadId)) throw new Error('invalid upload id');
    return join(this.root, uploadId);
  }

  private piecePath(uploadId: string, index: number, offset: number): string {
    if (!Number.isSafeInteger(index) || index < 0) throw new Error('invalid instance index');
    if (!Number.isSafeInteger(offset) || offset < 0) throw new Error('invalid piece offset');
    return join(this.uploadDir(uploadId), `${index}.${offset}.piece`);
  }

  /** The upload's folder, created the first time it is asked for. */
  private folder(uploadId: string): Promise<{ dir: string; entries: SharedSync }> {
    const dir = this.uploadDir(uploadId);
    let folder = this.folders.get(dir);
    if (!folder) {
      folder = mkdir(dir, { recursive: true, mode: 0o700 }).then(() => ({ dir, entries: new SharedSync(() => fsyncDirectory(dir)) }));
      // A failed mkdir (disk full, permissions) is tried again by the next write.
      folder.catch(() => this.folders.delete(dir));
      this.folders.set(dir, folder);
    }
    return folder;
  }
}

/** Writes exactly `piece.length` bytes of `source` from the file's start, hashing them, then fdatasync; closes the handle. */
async function streamInto(handle: FileHandle, piece: PieceRange, source: Readable, alsoHash: ByteSink | undefined): Promise<WrittenPiece> {
  const digest = new PieceDigest(piece, alsoHash);
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      const written = digest.received;
      digest.take(chunk);
      let position = 0;
      while (position < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, position, chunk.length - position, written + position);
        position += bytesWritten;
      }
    }
    const result = digest.finish();
    await handle.datasync();
    return result;
  } finally {
    await handle.close();
  }
}

/**
 * What a write of a piece owes its caller, taken as the bytes pass (any TemporaryStorage: the disk
 * here, S3TemporaryStorage too): their count against the piece's length, their SHA-256, `alsoHash`
 * fed in order, and for a piece at offset 0 its first HEAD_BYTES (WrittenPiece.head).
 */
export class PieceDigest {
  private readonly hash = createHash('sha256');
  private readonly head: Buffer[] = [];
  /** Bytes taken so far. */
  received = 0;

  constructor(private readonly piece: PieceRange, private readonly alsoHash?: ByteSink) {}

  /** Takes the next bytes; throws OverlongWriteError, taking none of them, when they pass the piece's length. */
  take(chunk: Buffer): void {
    const { offset, length } = this.piece;
    if (this.received + chunk.length > length) throw new OverlongWriteError(length);
    if (offset === 0 && this.received < HEAD_BYTES) this.head.push(Buffer.from(chunk.subarray(0, HEAD_BYTES - this.received)));
    this.hash.update(chunk);
    this.alsoHash?.update(chunk);
    this.received += chunk.length;
  }

  /** Once the body ended: the written piece, or ShortWriteError when fewer bytes than its length came. Call once. */
  finish(): WrittenPiece {
    const { offset, length } = this.piece;
    if (this.received < length) throw new ShortWriteError(this.received, length);
    return { bytes: this.received, sha256: this.hash.digest('hex'), ...(offset === 0 ? { head: Buffer.concat(this.head) } : {}) };
  }
}
