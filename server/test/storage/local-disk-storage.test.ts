// The temporary storage's contract (server/src/storage/storage.ts) on the local disk.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDiskStorage } from '../../src/storage/local-disk-storage.js';
import { OverlongWriteError, ShortWriteError } from '../../src/storage/storage.js';

let root: string;
let storage: LocalDiskStorage;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'relaypacs-storage-'));
  storage = new LocalDiskStorage(join(root, 'uploads'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const source = (b: Buffer, pieces = 3) => Readable.from(Array.from({ length: pieces }, (_, i) => b.subarray(Math.floor((i * b.length) / pieces), Math.floor(((i + 1) * b.length) / pieces))));
async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream as AsyncIterable<Buffer>) parts.push(part);
  return Buffer.concat(parts);
}

describe('local disk storage', () => {
  it('takes chunks in any order at their offsets, hashing what it wrote', async () => {
    const data = bytes(10_000, 1);
    await storage.prepareInstance('up-a', 0, data.length);
    const second = await storage.writeRange('up-a', 0, 6_000, 4_000, source(data.subarray(6_000)));
    const first = await storage.writeRange('up-a', 0, 0, 6_000, source(data.subarray(0, 6_000)));
    expect(second).toEqual({ bytes: 4_000, sha256: sha(data.subarray(6_000)) });
    // Written at offset 0: its first bytes come back for the header check.
    expect(first).toEqual({ bytes: 6_000, sha256: sha(data.subarray(0, 6_000)), head: data.subarray(0, 6_000) });
    expect(await storage.sha256('up-a', 0, data.length)).toBe(sha(data));
    expect(await readAll(storage.readRange('up-a', 0, 100, 200))).toEqual(data.subarray(100, 200));
  });

  it('writes a whole instance in one go, replacing what a crashed attempt left, readable by the relay only', async () => {
    const data = bytes(70_000, 2);
    // A first attempt that died part way: its bytes were never recorded.
    await expect(storage.writeInstance('up-b', 3, data.length, source(data.subarray(0, 5_000), 1))).rejects.toBeInstanceOf(ShortWriteError);
    // The head is the first 64 KiB, whatever pieces the body came in.
    expect(await storage.writeInstance('up-b', 3, data.length, source(data))).toEqual({ bytes: data.length, sha256: sha(data), head: data.subarray(0, 64 * 1024) });
    expect(await readFile(join(root, 'uploads', 'up-b', '3.part'))).toEqual(data);
    expect((await stat(join(root, 'uploads', 'up-b', '3.part'))).mode & 0o077).toBe(0);
    expect(await storage.listUploads()).toContain('up-b');
  });

  it('refuses a body longer than declared', async () => {
    await expect(storage.writeInstance('up-c', 0, 10, source(bytes(11, 3), 1))).rejects.toBeInstanceOf(OverlongWriteError);
    await storage.prepareInstance('up-c', 1, 10);
    await expect(storage.writeRange('up-c', 1, 0, 10, source(bytes(12, 3), 2))).rejects.toBeInstanceOf(OverlongWriteError);
  });

  it('deletes an upload (twice is fine) and refuses ids that could leave its folder', async () => {
    await storage.writeInstance('up-d', 0, 5, source(bytes(5, 4), 1));
    await storage.deleteUpload('up-d');
    await storage.deleteUpload('up-d');
    expect(await storage.listUploads()).not.toContain('up-d');
    await expect(storage.writeInstance('../escape', 0, 5, source(bytes(5, 4), 1))).rejects.toThrow('invalid upload id');
  });
});
