import type { Readable } from 'node:stream';

export interface WrittenRange {
  /** Bytes actually written (equal to the requested length on success). */
  bytes: number;
  /** SHA-256 of exactly those bytes, hex. */
  sha256: string;
  /** For a write at offset 0: its first bytes (up to 64 KiB), for the header check without reading the file again. */
  head?: Buffer;
}

/**
 * Temporary storage of instances being uploaded, addressed by (upload id, instance index).
 * Implementations: local disk (local-disk-storage.ts). The upload handlers see only this
 * interface; server/test/storage/local-disk-storage.test.ts holds its contract.
 */
export interface TemporaryStorage {
  /** Makes room for one instance of `size` bytes. Idempotent; existing bytes are kept. */
  prepareInstance(uploadId: string, index: number, size: number): Promise<void>;
  /**
   * Streams `source` into the instance at `offset`, expecting exactly `length` bytes. Resolves only
   * once the bytes are durable (fsync): the caller acknowledges the chunk after that. Rejects with
   * ShortWriteError when the source ends early and with OverlongWriteError when it sends more.
   * The caller records the range only on success; unrecorded bytes count as absent.
   */
  writeRange(uploadId: string, index: number, offset: number, length: number, source: Readable): Promise<WrittenRange>;
  /**
   * The whole instance in one go (a chunk covering all of it, the usual case for all but the largest
   * instances): creates or replaces its file with exactly `length` bytes from `source`, durable
   * (file and directory entry fsynced) when it resolves. Same contract as writeRange otherwise; it
   * spares the separate prepareInstance. A write that fails leaves no file (it would hold space).
   */
  writeInstance(uploadId: string, index: number, length: number, source: Readable): Promise<WrittenRange>;
  /** The instance's bytes in [start, end), or all of them. */
  readRange(uploadId: string, index: number, start?: number, end?: number): Readable;
  /**
   * SHA-256 (hex) of the instance's first `size` bytes. Implementations read through one reused
   * buffer: verifying gigabytes must not leave gigabytes of garbage buffers for the GC.
   */
  sha256(uploadId: string, index: number, size: number): Promise<string>;
  /** Deletes everything kept for the upload. Idempotent. */
  deleteUpload(uploadId: string): Promise<void>;
  /** Upload ids that have data in storage (to find orphans after a crash). */
  listUploads(): Promise<string[]>;
  /** Free bytes where new data would go. */
  freeBytes(): Promise<number>;
}

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
