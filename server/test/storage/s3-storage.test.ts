// The temporary storage's contract (temporary-storage-contract.ts) in an S3-compatible object store
// (OpenStack Swift with its s3api, from the test kit), and what is the object store's own: one object
// per piece, a failed PUT leaving no object, the quota, the probe behind /readyz, deletion in
// batches. One Swift for the whole file (it takes seconds to start); every storage gets a prefix
// of its own in one bucket.
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectsCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { freeLoopbackPort, SwiftS3Server } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3TemporaryStorage, type S3StorageOptions } from '../../src/storage/s3-storage.js';
import { parseS3StorageUrl } from '../../src/storage/storage-url.js';
import { ShortWriteError, StorageUnavailableError } from '../../src/storage/storage.js';
import { temporaryStorageContract } from './temporary-storage-contract.js';

const BUCKET = 'relaypacs-temporary';

let swift: SwiftS3Server;
let s3: S3Client;
const opened: S3TemporaryStorage[] = [];
let prefixes = 0;

beforeAll(async () => {
  const started = performance.now();
  swift = await SwiftS3Server.start();
  await swift.createBucket(BUCKET);
  s3 = await swift.client();
  console.log(`Swift s3api started in ${Math.round(performance.now() - started)} ms`);
});

afterAll(async () => {
  for (const storage of opened) storage.close();
  s3?.destroy();
  await swift?.stop();
});

/** A storage in the test bucket under a fresh prefix, as the relay would open it from its URL. */
async function openStorage(extra: Partial<S3StorageOptions> = {}): Promise<{ storage: S3TemporaryStorage; prefix: string }> {
  const url = `s3://${BUCKET}/run-${++prefixes}?endpoint=${encodeURIComponent(swift.endpoint)}&region=${swift.region}&forcePathStyle=true`;
  const location = parseS3StorageUrl(url);
  const storage = await S3TemporaryStorage.open({
    ...location,
    credentials: { accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey },
    ...extra,
  });
  opened.push(storage);
  return { storage, prefix: location.prefix };
}

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((item) => item.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream as AsyncIterable<Buffer>) parts.push(part);
  return Buffer.concat(parts);
}

// Durability in an object store: writePiece resolves once the PUT answered 200 (Swift: the object
// is on a quorum of replicas, fsynced), and only then does the relay record the piece.
temporaryStorageContract('S3 (Swift s3api)', async (roomBytes) => {
  const { storage, prefix } = await openStorage({ quotaBytes: roomBytes });
  return {
    storage,
    dispose: async () => {
      for (const uploadId of await storage.listUploads()) await storage.deleteUpload(uploadId);
      expect(await keysUnder(prefix)).toEqual([]);
    },
  };
});

describe('S3 temporary storage (Swift s3api)', () => {
  it('keeps one object per piece, PREFIX uploads/<upload>/<index>/<offset>-<length>; a piece written again replaces its object', async () => {
    const { storage, prefix } = await openStorage();
    const data = randomBytes(70_000);
    await storage.writePiece('up-b', 3, { offset: 0, length: 30_000 }, Readable.from([data.subarray(0, 30_000)]));
    await storage.writePiece('up-b', 3, { offset: 30_000, length: 40_000 }, Readable.from([randomBytes(40_000)]));
    await storage.writePiece('up-b', 3, { offset: 30_000, length: 40_000 }, Readable.from([data.subarray(30_000)]));
    expect((await keysUnder(prefix)).sort()).toEqual([`${prefix}uploads/up-b/3/0-30000`, `${prefix}uploads/up-b/3/30000-40000`]);
    expect(await readAll(storage.readRange('up-b', 3, [{ offset: 0, length: 30_000 }, { offset: 30_000, length: 40_000 }], 0, 70_000))).toEqual(data);
  });

  it('leaves no object when the source fails mid-way, ends short, or runs long after the full length', async () => {
    const { storage, prefix } = await openStorage();
    const whole = { offset: 0, length: 100_000 };
    const data = randomBytes(whole.length);
    // Bytes, a pause long enough for them to reach the store, then the client's connection breaks.
    const broken = Readable.from((async function* () {
      yield data.subarray(0, 60_000);
      await sleep(300);
      throw new Error('the client went away');
    })());
    await expect(storage.writePiece('failed', 0, whole, broken)).rejects.toThrow('the client went away');
    const short = Readable.from((async function* () {
      yield data.subarray(0, 99_999);
      await sleep(300);
    })());
    await expect(storage.writePiece('failed', 1, whole, short)).rejects.toBeInstanceOf(ShortWriteError);
    // Every byte of the piece first, then one too many: the store must not have stored the first ones.
    const long = Readable.from((async function* () {
      yield data;
      await sleep(300);
      yield Buffer.from([1]);
    })());
    await expect(storage.writePiece('failed', 2, whole, long)).rejects.toThrow(/longer than its declared/);
    await sleep(200);
    expect(await keysUnder(prefix)).toEqual([]);
    for (const index of [0, 1, 2]) {
      await expect(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${prefix}uploads/failed/${index}/0-100000` }))).rejects.toMatchObject({ name: 'NotFound' });
    }
  });

  it('fails a read when the object at a piece is not as long as recorded', async () => {
    const { storage, prefix } = await openStorage();
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}uploads/odd/0/0-100`, Body: randomBytes(50) }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}uploads/odd/1/0-100`, Body: randomBytes(150) }));
    await expect(readAll(storage.readRange('odd', 0, [{ offset: 0, length: 100 }], 0, 100))).rejects.toThrow(/holds 50 bytes, not the 100 recorded/);
    await expect(readAll(storage.readRange('odd', 0, [{ offset: 0, length: 100 }], 60, 100))).rejects.toThrow(/shorter than recorded/);
    await expect(readAll(storage.readRange('odd', 1, [{ offset: 0, length: 100 }], 0, 10))).rejects.toThrow(/holds 150 bytes/);
    await expect(readAll(storage.readRange('odd', 2, [{ offset: 0, length: 100 }], 0, 10))).rejects.toThrow(/missing from the object store/);
  });

  it('admits within its quota, counting the claims not yet released; without one, anything', async () => {
    const { storage } = await openStorage({ quotaBytes: 1_000 });
    expect(await storage.hasRoom(1_000, 'new-upload')).toBe(true);
    expect(await storage.hasRoom(1_001, 'chunk')).toBe(false);
    const first = await storage.admit(600);
    expect(first).toBeDefined();
    expect(await storage.hasRoom(400, 'chunk')).toBe(true);
    expect(await storage.hasRoom(401, 'new-upload')).toBe(false);
    expect(await storage.admit(401)).toBeUndefined();
    const second = await storage.admit(400);
    expect(second).toBeDefined();
    expect(await storage.admit(1)).toBeUndefined();
    first!.release();
    first!.release();
    expect(await storage.admit(600)).toBeDefined();
    const { storage: unlimited } = await openStorage();
    expect(await unlimited.hasRoom(Number.MAX_SAFE_INTEGER, 'new-upload')).toBe(true);
    expect(await unlimited.admit(Number.MAX_SAFE_INTEGER)).toBeDefined();
  });

  it('deletes an upload of more than 1000 objects: two listing pages, two DeleteObjects with Content-MD5 (Swift requires it)', async () => {
    const { storage, prefix } = await openStorage();
    // The fewest that need a second page and a second batch: Swift's s3api takes ~10-15 ms of CPU
    // for each PUT and each DELETE, whatever the concurrency.
    const count = 1_001;
    const started = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < count) {
        const index = next++;
        await storage.writePiece('crowd', index, { offset: 0, length: 1 }, Readable.from([Buffer.from([index & 0xff])]));
      }
    }));
    const written = performance.now();
    await storage.writePiece('neighbour', 0, { offset: 0, length: 1 }, Readable.from([Buffer.from([7])]));
    expect(await keysUnder(`${prefix}uploads/crowd/`)).toHaveLength(count);
    const listed = performance.now();
    await storage.deleteUpload('crowd');
    const deleted = performance.now();
    expect(await keysUnder(`${prefix}uploads/crowd/`)).toEqual([]);
    expect(await storage.listUploads()).toEqual(['neighbour']);
    await storage.deleteUpload('crowd');
    console.log(`${count} pieces written in ${Math.round(written - started)} ms, deleted in ${Math.round(deleted - listed)} ms`);
  });

  it('follows listing pages: lists every upload, deletes every object of one, ignores what is not an upload', async () => {
    const { storage, prefix } = await openStorage({ pageKeys: 2 });
    const ids = ['u1', 'u2', 'u3', 'u4', 'u5'];
    await Promise.all(ids.map((id) => storage.writePiece(id, 0, { offset: 0, length: 1 }, Readable.from([Buffer.from('x')]))));
    await Promise.all([0, 1, 2, 3, 4].map((index) => storage.writePiece('u3', index, { offset: 5, length: 1 }, Readable.from([Buffer.from('y')]))));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}uploads/not.an.id/0/0-1`, Body: 'x' }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}uploads/stray-file`, Body: 'x' }));
    expect((await storage.listUploads()).sort()).toEqual(ids);
    await storage.deleteUpload('u3');
    expect(await keysUnder(`${prefix}uploads/u3/`)).toEqual([]);
    expect((await storage.listUploads()).sort()).toEqual(['u1', 'u2', 'u4', 'u5']);
    // What is not an upload is not the relay's to delete: it stays for whoever put it there.
    expect(await keysUnder(`${prefix}uploads/not.an.id/`)).toHaveLength(1);
    // Why deleteUpload adds Content-MD5: the SDK alone sends a CRC32, which Swift's s3api ignores.
    await expect(s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: `${prefix}uploads/stray-file` }] } })))
      .rejects.toThrow(/Missing required header for this request: Content-MD5/);
  });

  it('fails requests to a store that accepts connections and never answers, within the timeouts', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const { storage } = await openStorage({
        endpoint: `http://127.0.0.1:${port}`,
        timeouts: { probeMs: 800, responseMs: 500, idleMs: 1_000 },
      });
      let started = performance.now();
      await expect(storage.hasRoom(0, 'chunk')).rejects.toThrow(/does not answer for bucket relaypacs-temporary at http:\/\/127\.0\.0\.1:\d+: no answer within 800 ms/);
      expect(performance.now() - started).toBeLessThan(3_000);
      started = performance.now();
      await expect(readAll(storage.readRange('any', 0, [{ offset: 0, length: 10 }], 0, 10))).rejects.toThrow(/requestTimeout|timed out/);
      // A PUT has no deadline as a whole (the client sets its pace); an idle socket fails it.
      await expect(storage.writePiece('any', 0, { offset: 0, length: 10 }, Readable.from([randomBytes(10)]))).rejects.toThrow(/timed out after 1000 ms of inactivity/);
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('rejects hasRoom when the bucket is missing or nothing listens', async () => {
    const { storage } = await openStorage({ bucket: 'relaypacs-no-such-bucket' });
    await expect(storage.hasRoom(0, 'chunk')).rejects.toThrow(/does not answer for bucket relaypacs-no-such-bucket.*HTTP 404/);
    const { storage: nowhere } = await openStorage({ endpoint: `http://127.0.0.1:${await freeLoopbackPort()}` });
    await expect(nowhere.hasRoom(0, 'new-upload')).rejects.toThrow(/does not answer.*ECONNREFUSED/);
  });

  // Last in the file: the shared Swift stops here.
  it('rejects hasRoom once the store is stopped, and a write fails', async () => {
    const { storage } = await openStorage();
    expect(await storage.hasRoom(0, 'chunk')).toBe(true);
    await swift.stop();
    await expect(storage.hasRoom(0, 'chunk')).rejects.toThrow(/does not answer for bucket relaypacs-temporary/);
    // As the storage interface speaks it: unavailable, the relay's 503 (not a 500).
    await expect(storage.writePiece('late', 0, { offset: 0, length: 5 }, Readable.from([randomBytes(5)]))).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(storage.listUploads()).rejects.toBeInstanceOf(StorageUnavailableError);
  });
});
