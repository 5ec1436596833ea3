import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, statfs, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fsyncDirectory } from './fsync-directory.js';
import { SharedSync } from './shared-sync.js';
import { OverlongWriteError, ShortWriteError, type TemporaryStorage, type WrittenRange } from './storage.js';

const UPLOAD_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** How much of an instance's beginning a write keeps for the header check: the meta header and the data set's first elements. */
const HEAD_BYTES = 64 * 1024;

/**
 * Temporary storage on the local disk: DATA/uploads/<upload id>/<index>.part, one sparse file per
 * instance. Chunks are written in place at their offsets (so they may arrive in any order and in
 * parallel), then fsynced before the caller acknowledges them.
 */
export class LocalDiskStorage implements TemporaryStorage {
  /**
   * Upload folders created by this process, each with the fsync of its directory entries shared by
   * the files created in it at the same time (SharedSync): thousands of small instances then cost
   * neither a mkdir nor a directory fsync each.
   */
  private readonly folders = new Map<string, Promise<{ dir: string; entries: SharedSync }>>();

  constructor(private readonly root: string) {}

  async prepareInstance(uploadId: string, index: number, size: number): Promise<void> {
    const folder = await this.folder(uploadId);
    const handle = await open(this.instancePath(uploadId, index), 'a');
    try {
      const { size: current } = await handle.stat();
      // Sparse: the file claims its length now; blocks are allocated as chunks land.
      if (current < size) await handle.truncate(size);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await folder.entries.request();
  }

  async writeRange(uploadId: string, index: number, offset: number, length: number, source: Readable): Promise<WrittenRange> {
    return this.streamInto(await open(this.instancePath(uploadId, index), 'r+'), offset, length, source);
  }

  async writeInstance(uploadId: string, index: number, length: number, source: Readable): Promise<WrittenRange> {
    const folder = await this.folder(uploadId);
    const path = this.instancePath(uploadId, index);
    let written;
    try {
      written = await this.streamInto(await open(path, 'w', 0o600), 0, length, source);
    } catch (error) {
      // Nothing of it is recorded, so none of it is needed: a file left behind would only hold
      // space, which on a full disk (ENOSPC) is what the other chunks are waiting for.
      await rm(path, { force: true }).catch(() => undefined);
      throw error;
    }
    await folder.entries.request();
    return written;
  }

  /** Writes exactly `length` bytes of `source` at `offset`, hashing them, then fdatasync; closes the handle. */
  private async streamInto(handle: FileHandle, offset: number, length: number, source: Readable): Promise<WrittenRange> {
    const hash = createHash('sha256');
    let written = 0;
    // The first bytes of an instance, kept for its header check (WrittenRange.head).
    const head: Buffer[] = [];
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        if (written + chunk.length > length) throw new OverlongWriteError(length);
        if (offset === 0 && written < HEAD_BYTES) head.push(Buffer.from(chunk.subarray(0, HEAD_BYTES - written)));
        let position = 0;
        while (position < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, position, chunk.length - position, offset + written + position);
          position += bytesWritten;
        }
        hash.update(chunk);
        written += chunk.length;
      }
      if (written < length) throw new ShortWriteError(written, length);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    return { bytes: written, sha256: hash.digest('hex'), ...(offset === 0 ? { head: Buffer.concat(head) } : {}) };
  }

  readRange(uploadId: string, index: number, start = 0, end?: number): Readable {
    return createReadStream(this.instancePath(uploadId, index), { start, ...(end === undefined ? {} : { end: end - 1 }), highWaterMark: 1024 * 1024 });
  }

  async sha256(uploadId: string, index: number, size: number): Promise<string> {
    const handle = await open(this.instancePath(uploadId, index), 'r');
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    try {
      let position = 0;
      while (position < size) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position);
        if (bytesRead === 0) throw new Error(`instance ${index} of upload ${uploadId} is shorter than ${size} bytes`);
        hash.update(buffer.subarray(0, bytesRead));
        position += bytesRead;
      }
    } finally {
      await handle.close();
    }
    return hash.digest('hex');
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

  async freeBytes(): Promise<number> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const stats = await statfs(this.root);
    return stats.bavail * stats.bsize;
  }

  private uploadDir(uploadId: string): string {
    // Upload ids come from the relay, but they also reach us through URLs: never let one be a path.
    if (!UPLOAD_ID.test(uploadId)) throw new Error('invalid upload id');
    return join(this.root, uploadId);
  }

  private instancePath(uploadId: string, index: number): string {
    if (!Number.isInteger(index) || index < 0) throw new Error('invalid instance index');
    return join(this.uploadDir(uploadId), `${index}.part`);
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
