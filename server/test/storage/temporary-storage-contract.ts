// The contract of TemporaryStorage (server/src/storage/storage.ts), written against the interface
// only, as tus-node-server tests its stores: every implementation runs it with a factory
// (local-disk-storage.test.ts; an object store's test will do the same).
//
// Durability cannot be shown from inside one process: a write must resolve only once its bytes and
// its name survive a crash or a power cut (on disk fdatasync of the file and fsync of its folder, an
// object store's PUT answered). Each implementation states how it does that; kill -9 of a relay in
// the middle of uploads (server/test/upload/relay-crash.test.ts, faults/kill-faults.test.ts) checks
// that nothing acknowledged is lost, and this suite checks what follows from the contract: a write
// that failed leaves nothing readable, and the bytes read are the bytes the recorded pieces got.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OverlongWriteError, ShortWriteError, type PieceRange, type TemporaryStorage } from '../../src/storage/storage.js';

export interface StorageUnderTest {
  storage: TemporaryStorage;
  /** Removes whatever the storage kept (the test's own folder, bucket prefix...). */
  dispose(): Promise<void>;
}

/**
 * Builds a storage to test. `roomBytes`: the room it should have above its floors, for both
 * new uploads and chunks (a disk sets its floors that far below its free space; an object store
 * sets its quota); roughly: the suite keeps well clear of the edge.
 */
export type StorageFactory = (roomBytes: number) => Promise<StorageUnderTest>;

const ROOM = 1024 ** 3;
const HEAD_BYTES = 64 * 1024;

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
/** `bytes` as a body arriving in `parts` pieces, as a socket delivers it. */
const body = (bytes: Buffer, parts = 3) =>
  Readable.from(Array.from({ length: parts }, (_, i) => bytes.subarray(Math.floor((i * bytes.length) / parts), Math.floor(((i + 1) * bytes.length) / parts))));
async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream as AsyncIterable<Buffer>) parts.push(part);
  return Buffer.concat(parts);
}
/** Splits [0, size) at `cuts` into pieces. */
function piecesAt(size: number, cuts: number[]): PieceRange[] {
  const bounds = [0, ...cuts, size];
  return bounds.slice(1).map((end, i) => ({ offset: bounds[i]!, length: end - bounds[i]! }));
}
/** Writes `pieces` of `data` in the order given, all at once. */
function writeAll(storage: TemporaryStorage, uploadId: string, index: number, data: Buffer, pieces: PieceRange[]) {
  return Promise.all(pieces.map((p) => storage.writePiece(uploadId, index, p, body(data.subarray(p.offset, p.offset + p.length)))));
}

export function temporaryStorageContract(name: string, factory: StorageFactory): void {
  describe(`TemporaryStorage contract: ${name}`, () => {
    let under: StorageUnderTest;
    let storage: TemporaryStorage;
    beforeAll(async () => {
      under = await factory(ROOM);
      storage = under.storage;
    });
    afterAll(async () => {
      await under?.dispose();
    });

    it('takes the pieces of an instance in any order and in parallel, each hashed as written', async () => {
      const data = randomBytes(300_000);
      const pieces = piecesAt(data.length, [70_000, 100_001, 250_000]);
      const written = await writeAll(storage, 'order', 0, data, [...pieces].reverse());
      expect(written.map((w) => ({ bytes: w.bytes, sha256: w.sha256 }))).toEqual(
        [...pieces].reverse().map((p) => ({ bytes: p.length, sha256: sha(data.subarray(p.offset, p.offset + p.length)) })));
      // Only the piece at offset 0 brings the instance's head, its first 64 KiB.
      expect(written.map((w) => w.head?.length)).toEqual([undefined, undefined, undefined, HEAD_BYTES]);
      expect(written[3]!.head).toEqual(data.subarray(0, HEAD_BYTES));
      expect(await readAll(storage.readRange('order', 0, pieces, 0, data.length))).toEqual(data);
      // The pieces may be named in any order too.
      expect(sha(await readAll(storage.readRange('order', 0, [...pieces].reverse(), 0, data.length)))).toBe(sha(data));
    });

    it('writes many instances of one upload at once, one piece each', async () => {
      const instances = Array.from({ length: 40 }, (_, i) => randomBytes(1_000 + i * 37));
      const written = await Promise.all(instances.map((data, index) => storage.writePiece('many', index, { offset: 0, length: data.length }, body(data, 1))));
      expect(written.map((w) => w.sha256)).toEqual(instances.map(sha));
      // A whole small instance: the head is all of it.
      expect(written.map((w) => w.head)).toEqual(instances);
      for (const [index, data] of instances.entries()) {
        expect(await readAll(storage.readRange('many', index, [{ offset: 0, length: data.length }], 0, data.length))).toEqual(data);
      }
    });

    it('reads any [start, end) across piece boundaries, streamed piece by piece', async () => {
      const data = randomBytes(5 * 1024 * 1024 + 3);
      const pieces = piecesAt(data.length, [1, 2 * 1024 * 1024, 2 * 1024 * 1024 + 17, 4 * 1024 * 1024]);
      await writeAll(storage, 'ranges', 2, data, pieces);
      const ranges: [number, number][] = [
        [0, data.length], [0, 1], [1, 2], [0, 2], [5, 5], [2 * 1024 * 1024 - 1, 2 * 1024 * 1024 + 18],
        [2 * 1024 * 1024 + 17, 4 * 1024 * 1024], [100, data.length - 100], [data.length - 1, data.length],
      ];
      for (let n = 0; n < 20; n++) {
        const a = Math.floor(Math.random() * data.length);
        const b = Math.floor(Math.random() * data.length);
        ranges.push([Math.min(a, b), Math.max(a, b)]);
      }
      for (const [start, end] of ranges) {
        expect(sha(await readAll(storage.readRange('ranges', 2, pieces, start, end))), `[${start}, ${end})`).toBe(sha(data.subarray(start, end)));
      }
      // Streamed, not assembled: a range of megabytes comes in several buffers.
      const buffers: number[] = [];
      for await (const part of storage.readRange('ranges', 2, pieces, 0, data.length) as AsyncIterable<Buffer>) buffers.push(part.length);
      expect(buffers.length).toBeGreaterThan(4);
      expect(Math.max(...buffers)).toBeLessThanOrEqual(2 * 1024 * 1024);
    });

    it('feeds the same bytes to a sink through one reused buffer', async () => {
      const data = randomBytes(3 * 1024 * 1024 + 5);
      const pieces = piecesAt(data.length, [7, 2 * 1024 * 1024]);
      await writeAll(storage, 'fed-range', 0, data, pieces);
      for (const [start, end] of [[0, data.length], [3, 2 * 1024 * 1024 + 1], [100, 100]] as const) {
        const running = createHash('sha256');
        const buffers = new Set<ArrayBufferLike>();
        await storage.feedRange('fed-range', 0, pieces, start, end, { update: (bytes) => { buffers.add(bytes.buffer); running.update(bytes); } });
        expect(running.digest('hex'), `[${start}, ${end})`).toBe(sha(data.subarray(start, end)));
        expect(buffers.size).toBeLessThanOrEqual(1);
      }
      await expect(storage.feedRange('fed-range', 0, [pieces[0]!], 0, data.length, createHash('sha256'))).rejects.toThrow();
    });

    it('fails a read the named pieces do not cover', async () => {
      const data = randomBytes(10_000);
      const pieces = piecesAt(data.length, [4_000]);
      await writeAll(storage, 'gap', 0, data, pieces);
      await expect(readAll(storage.readRange('gap', 0, [pieces[1]!], 0, data.length))).rejects.toThrow();
      await expect(readAll(storage.readRange('gap', 0, [pieces[0]!], 0, data.length))).rejects.toThrow();
      // A piece recorded longer than was written (it cannot happen, but must not read as data).
      await expect(readAll(storage.readRange('gap', 0, [{ offset: 0, length: 5_000 }], 0, 5_000))).rejects.toThrow();
    });

    it('refuses a body shorter or longer than the piece, leaving nothing readable, and takes it again after', async () => {
      const data = randomBytes(50_000);
      const whole = { offset: 0, length: data.length };
      await expect(storage.writePiece('short', 0, whole, body(data.subarray(0, 20_000), 2))).rejects.toBeInstanceOf(ShortWriteError);
      await expect(readAll(storage.readRange('short', 0, [whole], 0, data.length))).rejects.toThrow();
      await expect(readAll(storage.readRange('short', 0, [{ offset: 0, length: 20_000 }], 0, 20_000))).rejects.toThrow();
      const extra = Buffer.concat([data, randomBytes(1)]);
      await expect(storage.writePiece('long', 0, whole, body(extra, 4))).rejects.toBeInstanceOf(OverlongWriteError);
      await expect(readAll(storage.readRange('long', 0, [whole], 0, data.length))).rejects.toThrow();
      // A piece at an offset past the start is refused the same way.
      await expect(storage.writePiece('long', 1, { offset: 100, length: 10 }, body(randomBytes(11), 1))).rejects.toBeInstanceOf(OverlongWriteError);
      await expect(readAll(storage.readRange('long', 1, [{ offset: 100, length: 10 }], 100, 110))).rejects.toThrow();
      // The chunk sent again is taken.
      expect((await storage.writePiece('short', 0, whole, body(data))).sha256).toBe(sha(data));
      expect(await readAll(storage.readRange('short', 0, [whole], 0, data.length))).toEqual(data);
    });

    it('lets a piece that was written but never recorded be written again, with other bytes or another length', async () => {
      const data = randomBytes(80_000);
      // Written, then not recorded (its digest did not match, or the relay died before the commit).
      await storage.writePiece('again', 0, { offset: 0, length: 60_000 }, body(randomBytes(60_000)));
      await storage.writePiece('again', 0, { offset: 30_000, length: 20_000 }, body(randomBytes(20_000)));
      // The client resumes with other chunk sizes: only these pieces are recorded.
      const recorded = piecesAt(data.length, [40_000]);
      await writeAll(storage, 'again', 0, data, recorded);
      expect(await readAll(storage.readRange('again', 0, recorded, 0, data.length))).toEqual(data);
      expect(await readAll(storage.readRange('again', 0, recorded, 29_000, 51_000))).toEqual(data.subarray(29_000, 51_000));
      // The same piece written twice: the second write's bytes are the piece's.
      const other = randomBytes(40_000);
      await storage.writePiece('again', 1, recorded[0]!, body(randomBytes(40_000)));
      await storage.writePiece('again', 1, recorded[0]!, body(other));
      expect(await readAll(storage.readRange('again', 1, [recorded[0]!], 0, 40_000))).toEqual(other);
    });

    it("feeds a piece's bytes, in order, to another hash as it writes them", async () => {
      const data = randomBytes(200_000);
      const running = createHash('sha256').update('before');
      await storage.writePiece('fed', 0, { offset: 1_000, length: data.length }, body(data, 7), running);
      expect(running.digest('hex')).toBe(createHash('sha256').update('before').update(data).digest('hex'));
    });

    it('admits writes while they fit, holding each claim until it is released', async () => {
      // A storage of its own, made now: a disk's room is measured against its free space, which the
      // other test files running meanwhile change.
      const fresh = await factory(ROOM);
      const storage = fresh.storage;
      try {
        await admissionChecks(storage);
      } finally {
        await fresh.dispose();
      }
    });

    it('lists the uploads it holds data for, and deletes one (twice is fine)', async () => {
      await storage.writePiece('gone', 0, { offset: 0, length: 5 }, body(randomBytes(5), 1));
      await storage.writePiece('kept', 0, { offset: 0, length: 5 }, body(randomBytes(5), 1));
      expect(await storage.listUploads()).toEqual(expect.arrayContaining(['gone', 'kept', 'order']));
      await storage.deleteUpload('gone');
      await storage.deleteUpload('gone');
      expect(await storage.listUploads()).not.toContain('gone');
      expect(await storage.listUploads()).toContain('kept');
      await expect(readAll(storage.readRange('gone', 0, [{ offset: 0, length: 5 }], 0, 5))).rejects.toThrow();
      // Written again after its deletion (a cancelled upload's late chunk): a fresh start.
      const data = randomBytes(5);
      await storage.writePiece('gone', 0, { offset: 0, length: 5 }, body(data, 1));
      expect(await readAll(storage.readRange('gone', 0, [{ offset: 0, length: 5 }], 0, 5))).toEqual(data);
    });

    it('refuses upload ids that could name something outside the storage', async () => {
      for (const id of ['../escape', 'a/b', '', '.']) {
        await expect(storage.writePiece(id, 0, { offset: 0, length: 1 }, body(randomBytes(1), 1))).rejects.toThrow('invalid upload id');
      }
    });
  });
}

async function admissionChecks(storage: TemporaryStorage): Promise<void> {
  expect(await storage.hasRoom(0, 'chunk')).toBe(true);
  expect(await storage.hasRoom(0, 'new-upload')).toBe(true);
  expect(await storage.hasRoom(ROOM / 2, 'new-upload')).toBe(true);
  expect(await storage.hasRoom(ROOM * 2, 'new-upload')).toBe(false);
  expect(await storage.hasRoom(ROOM * 2, 'chunk')).toBe(false);
  expect(await storage.admit(ROOM * 2)).toBeUndefined();
  // Two claims of 60% of the room: the second waits for the first to be released.
  const first = await storage.admit(Math.floor(ROOM * 0.6));
  expect(first).toBeDefined();
  expect(await storage.admit(Math.floor(ROOM * 0.6))).toBeUndefined();
  first!.release();
  first!.release(); // twice is harmless
  const second = await storage.admit(Math.floor(ROOM * 0.6));
  expect(second).toBeDefined();
  second!.release();
  // Claims decided at once never share the last bytes.
  const together = await Promise.all(Array.from({ length: 4 }, () => storage.admit(Math.floor(ROOM * 0.3))));
  expect(together.filter((claim) => claim !== undefined)).toHaveLength(3);
  for (const claim of together) claim?.release();
}
