// The temporary storage's contract (temporary-storage-contract.ts) on the local disk, and what is
// the disk's own: its layout, file modes, and reading the sparse files of relays before pieces.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDiskStorage } from '../../src/storage/local-disk-storage.js';
import { temporaryStorageContract } from './temporary-storage-contract.js';

// Durability on disk: a piece's file is fdatasynced, and its folder fsynced (shared by the pieces
// created meanwhile), before writePiece resolves; the database records the piece only after that.
temporaryStorageContract('local disk', async (roomBytes) => {
  const root = await mkdtemp(join(tmpdir(), 'relaypacs-storage-contract-'));
  const { bavail, bsize } = await statfs(root);
  // Floors that leave `roomBytes` of today's free space for new uploads and chunks alike.
  const floor = Math.max(0, bavail * bsize - roomBytes);
  return {
    storage: new LocalDiskStorage(join(root, 'uploads'), { minFreeDiskBytes: floor, reserveDiskBytes: floor }),
    dispose: () => rm(root, { recursive: true, force: true }),
  };
});

let root: string;
let storage: LocalDiskStorage;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'relaypacs-storage-'));
  storage = new LocalDiskStorage(join(root, 'uploads'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream as AsyncIterable<Buffer>) parts.push(part);
  return Buffer.concat(parts);
}

describe('local disk storage', () => {
  it('keeps one file per piece, DATA/uploads/<upload id>/<index>.<offset>.piece, readable by the relay only', async () => {
    const data = randomBytes(70_000);
    await storage.writePiece('up-b', 3, { offset: 0, length: 30_000 }, Readable.from([data.subarray(0, 30_000)]));
    await storage.writePiece('up-b', 3, { offset: 30_000, length: 40_000 }, Readable.from([data.subarray(30_000)]));
    expect((await readdir(join(root, 'uploads', 'up-b'))).sort()).toEqual(['3.0.piece', '3.30000.piece']);
    expect(await readFile(join(root, 'uploads', 'up-b', '3.30000.piece'))).toEqual(data.subarray(30_000));
    expect((await stat(join(root, 'uploads', 'up-b', '3.0.piece'))).mode & 0o077).toBe(0);
  });

  it("reads a recorded piece without a file of its own from the instance's sparse file, as relays before pieces kept it", async () => {
    // An upload in progress, or a study awaiting delivery, when the relay was upgraded.
    const data = randomBytes(50_000);
    await mkdir(join(root, 'uploads', 'up-old'), { recursive: true });
    await writeFile(join(root, 'uploads', 'up-old', '0.part'), data);
    // The rest of the instance arrives after the upgrade, as a piece.
    const rest = randomBytes(10_000);
    await storage.writePiece('up-old', 0, { offset: 50_000, length: 10_000 }, Readable.from([rest]));
    const pieces = [{ offset: 0, length: 20_000 }, { offset: 20_000, length: 30_000 }, { offset: 50_000, length: 10_000 }];
    expect(sha(await readAll(storage.readRange('up-old', 0, pieces, 0, 60_000)))).toBe(sha(Buffer.concat([data, rest])));
    expect(await readAll(storage.readRange('up-old', 0, pieces, 19_000, 21_000))).toEqual(data.subarray(19_000, 21_000));
  });
});
