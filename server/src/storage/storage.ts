import type { Readable } from 'node:stream';

/** Where a piece sits in its instance: the instance's bytes [offset, offset + length). */
export interface PieceRange {
  offset: number;
  length: number;
}

export interface WrittenPiece {
  /** Bytes written (equal to the piece's length on success). */
  bytes: number;
  /** SHA-256 of exactly those bytes, hex. */
  sha256: string;
  /** For a piece at offset 0: its first bytes (up to 64 KiB), for the header check without reading them again. */
  head?: Buffer;
}

/** Whatever else must see a piece's bytes, in order, as they are written (the instance's running SHA-256). */
export interface ByteSink {
  update(bytes: Uint8Array): unknown;
}

/** Room held for a write until it ended (written or failed). */
export interface SpaceClaim {
  release(): void;
}

/**
 * What room is asked for. 'new-upload': the bytes of a new upload together with what the uploads
 * already admitted still have to receive, above the larger floor (upload.minFreeDiskBytes, or
 * upload.reserveDiskBytes). 'chunk': a chunk of an admitted upload, whose promise is its own
 * already, above the database's reserve only (upload.reserveDiskBytes).
 */
export type RoomFor = 'new-upload' | 'chunk';

/**
 * Temporary storage of instances being uploaded, as pieces: each chunk received is one piece,
 * addressed by (upload id, instance index, offset, length), written whole or not at all, in any
 * order and in parallel. A disk keeps one file per piece; an object store would keep one object.
 *
 * The database, not the storage, knows which pieces hold data: a piece counts only once the
 * upload service recorded it (upload_chunks), after its write resolved and its digest matched. A
 * piece whose write failed, was cut by a crash, or did not match its digest may be left behind,
 * and a later write of the same (index, offset) replaces it. So reads name the recorded pieces
 * (readRange), and the storage never lists an instance's pieces to decide what its bytes are.
 *
 * Durability: a write resolves only once its bytes and its name survive a crash or a power cut
 * (on disk: fdatasync of the file and fsync of its folder; an object store: the PUT answered), so
 * the caller may record it and then acknowledge the chunk.
 *
 * server/test/storage/temporary-storage-contract.ts holds the contract every implementation passes.
 */
export interface TemporaryStorage {
  /**
   * Streams `source` into the piece, expecting exactly `piece.length` bytes, hashing them (and
   * feeding them to `alsoHash`, if given, in order). Rejects with ShortWriteError when the source
   * ends early and with OverlongWriteError when it sends more; a write that fails leaves nothing
   * that holds space (on a full disk, space is what the other chunks are waiting for). Replaces
   * whatever an earlier write of the same (index, offset) left.
   */
  writePiece(uploadId: string, index: number, piece: PieceRange, source: Readable, alsoHash?: ByteSink): Promise<WrittenPiece>;
  /**
   * The instance's bytes [start, end), streamed from `pieces` (the recorded ones, which do not
   * overlap and must cover the range) without assembling them first. Fails (as a stream error)
   * when a piece is missing or shorter than recorded.
   */
  readRange(uploadId: string, index: number, pieces: readonly PieceRange[], start: number, end: number): Readable;
  /**
   * The same bytes fed to `sink` (which must not keep them) through one reused buffer: hashing an
   * instance of gigabytes at verification must neither leave gigabytes of garbage buffers for the
   * GC nor fault in fresh memory for every read. Rejects as readRange fails.
   */
  feedRange(uploadId: string, index: number, pieces: readonly PieceRange[], start: number, end: number, sink: ByteSink): Promise<void>;
  /** Whether `bytes` more would fit now (a fresh measurement), above the floor for `roomFor`. Holds nothing. */
  hasRoom(bytes: number, roomFor: RoomFor): Promise<boolean>;
  /**
   * Admits a chunk's write of `bytes`, by the 'chunk' rule: answers the claim (release it once the
   * write ended, written or failed), or undefined when the bytes do not fit. Claims are decided
   * synchronously among themselves, so two writes cannot both be given the same last bytes.
   */
  admit(bytes: number): Promise<SpaceClaim | undefined>;
  /** Deletes everything kept for the upload. Idempotent. */
  deleteUpload(uploadId: string): Promise<void>;
  /** Upload ids that have data in storage (to find orphans after a crash). */
  listUploads(): Promise<string[]>;
  /** Lets go of what the storage holds open (an object store's connections); after the relay's last use. */
  close(): Promise<void>;
}

/**
 * The storage does not answer (an object store down or unreachable): nothing was kept, and the same
 * call later may succeed. The relay answers 503 with Retry-After, as for StoreUnavailableError.
 */
export class StorageUnavailableError extends Error {}

export class ShortWriteError extends Error {
  constructor(readonly received: number, readonly expected: number) {
    super(`the body ended after ${received} of ${expected} bytes`);
  }
}

export class OverlongWriteError extends Error {
  constructor(readonly expected: number) {
    super(`the body is longer than its declared ${expected} bytes`);
  }
}
