import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { OverlongWriteError, ShortWriteError, type TemporaryStorage, type WrittenRange } from './storage.js';

const UPLOAD_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Temporary storage on the local disk: DATA/uploads/<upload id>/<index>.part, one sparse file per
 * instance. Chunks are written in place at their offsets (so they may arrive in any order and in
 * parallel), then fsynced before the caller acknowledges them.
 */
export class LocalDiskStorage implements TemporaryStorage {
  constructor(private readonly root: string) {}

  async prepareInstance(uploadId: string, index: number, size: number): Promise<void> {
    const dir = this.uploadDir(uploadId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const handle = await open(this.instancePath(uploadId, index), 'a');
    try {
      const { size: current } = await handle.stat();
      // Sparse: the file claims its length now; blocks are allocated as chunks land.
      if (current < size) await handle.truncate(size);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.syncDirectory(dir);
  }

  async writeRange(uploadId: string, index: number, offset: number, length: number, source: Readable): Promise<WrittenRange> {
    const handle = await open(this.instancePath(uploadId, index), 'r+');
    const hash = createHash('sha256');
    let written = 0;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        if (written + chunk.length > length) throw new OverlongWriteError(length);
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
    return { bytes: written, sha256: hash.digest('hex') };
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
    await rm(this.uploadDir(uploadId), { recursive: true, force: true });
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

  /** fsync the directory so a new file's entry survives a crash (POSIX). */
  private async syncDirectory(dir: string): Promise<void> {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
