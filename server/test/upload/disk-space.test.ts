// A relay running out of disk, over real HTTP: admission counts what accepted uploads still have to
// receive, chunks leave room for the database, and a write that meets a full disk answers 507 and
// keeps nothing. The full-disk tests mount a small tmpfs (root only); admission needs no root.
import { randomBytes } from 'node:crypto';
import { readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CAN_MOUNT, SmallDisk } from '@relaypacs/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { InitUploadRequest } from '../../src/protocol/upload-protocol.js';
import { LocalDiskStorage } from '../../src/storage/local-disk-storage.js';
import { startTestRelay, type TestRelay } from '../support/test-relay.js';
import { sha256, TestUploadClient } from '../support/upload-client.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const MiB = 1024 * 1024;

let relay: TestRelay | undefined;
let disk: SmallDisk | undefined;
afterEach(async () => {
  await disk?.unmount();
  disk = undefined;
  await relay?.close();
  relay = undefined;
});

/** A one-study manifest of `count` instances of `size` bytes each (contents given by `bytes`, else made up). */
function manifest(tag: string, size: number, count = 1, bytes?: Buffer): InitUploadRequest {
  return {
    study: { studyInstanceUid: `2.25.${tag}`, serviceLevel: 'ROUTINE' },
    instances: Array.from({ length: count }, (_, i) => ({ sopInstanceUid: `2.25.${tag}.${i}`, sopClassUid: CT, size, sha256: bytes ? sha256(bytes) : 'a'.repeat(64) })),
  };
}

async function tokens(count: number): Promise<string[]> {
  return Promise.all(Array.from({ length: count }, () => relay!.tokenFor('device')));
}

/** A relay whose uploads folder is a small tmpfs (its database stays on the ordinary disk). */
async function relayOnSmallDisk(bytes: number, upload: Record<string, unknown>, inodes?: number): Promise<TestRelay> {
  relay = await startTestRelay({ upload: { minChunkBytes: 1024, maxChunkBytes: 8 * MiB, preferredChunkBytes: MiB, ...upload } });
  disk = await SmallDisk.mount(bytes, { at: join(relay.dataDir, 'uploads'), ...(inodes ? { inodes } : {}) });
  return relay;
}

describe('admission', () => {
  it('admits only the uploads that fit together, even when they arrive at once', async () => {
    // The room above the floor is half of what the disk has free; each study declares 40% of it,
    // so two fit and a third does not (with 10% of the free space to spare for other writers).
    const free = await statfs(tmpdir()).then((s) => s.bavail * s.bsize);
    const room = Math.floor(free / 2);
    const studyBytes = Math.floor(room * 0.4);
    const perInstance = Math.ceil(studyBytes / 4);
    relay = await startTestRelay({ upload: { minFreeDiskBytes: free - room, reserveDiskBytes: 0, maxInstanceBytes: perInstance, maxStudyBytes: 4 * perInstance } });
    const client = new TestUploadClient(relay.url);
    const users = await tokens(5);
    const answers = await Promise.all(users.map((token, n) => client.init(token, manifest(`1${n}`, perInstance, 4))));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([201, 201, 507, 507, 507]);
    const refused = answers.find((a) => a.status === 507)!;
    expect(refused.body).toMatchObject({ error: { code: 'STORAGE_FULL' } });

    // Cancelling an admitted upload gives its promise back: one of the refused ones fits now.
    const admitted = answers.find((a) => a.status === 201)!.body;
    expect((await client.request('DELETE', `/upload/${admitted.uploadId}`, admitted.uploadToken)).status).toBe(204);
    const again = answers.findIndex((a) => a.status === 507);
    expect((await client.init(users[again]!, manifest(`1${again}`, perInstance, 4))).status).toBe(201);
  });
});

describe('admission and readiness agree', () => {
  it('answers /readyz 503 while admitted uploads hold the room, and an idle upload stops holding it', async () => {
    const free = await statfs(tmpdir()).then((s) => s.bavail * s.bsize);
    const room = Math.floor(free / 2);
    relay = await startTestRelay({ upload: { minFreeDiskBytes: free - room, reserveDiskBytes: 0, maxInstanceBytes: room, maxStudyBytes: room, reservationIdleSeconds: 900 } });
    const client = new TestUploadClient(relay.url);
    const [first, second] = await tokens(2);
    const half = Math.floor(room * 0.5);
    expect((await fetch(`${relay.url}/readyz?bytes=${half}`)).status).toBe(200);
    // One upload promises 90% of the room: another half would not fit, so the relay is not ready for it.
    expect((await client.init(first!, manifest('31', Math.floor(room * 0.9)))).status).toBe(201);
    const notReady = await fetch(`${relay.url}/readyz?bytes=${half}`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({ checks: { disk: 'low' } });
    expect(Number(notReady.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await client.init(second!, manifest('32', half))).status).toBe(507);
    // The admitted upload's own chunks are promised already: for them (no bytes asked) the relay is ready.
    expect((await fetch(`${relay.url}/readyz`)).status).toBe(200);
    // A small upload still fits in what is left: ready for that.
    expect((await fetch(`${relay.url}/readyz?bytes=1024`)).status).toBe(200);
    expect((await fetch(`${relay.url}/readyz?bytes=0x10`)).status).toBe(400);
    // Nothing arrives for reservationIdleSeconds: the abandoned upload holds nothing any more.
    relay.advance(901);
    expect((await fetch(`${relay.url}/readyz?bytes=${half}`)).status).toBe(200);
    const [later] = await tokens(1); // the access tokens above expired meanwhile
    expect((await client.init(later!, manifest('32', half))).status).toBe(201);
  });
});

describe('a full database', () => {
  it('answers 507 STORAGE_FULL, not 500, when the database cannot grow (SQLITE_FULL) at init', async () => {
    relay = await startTestRelay({ upload: { minFreeDiskBytes: 0, reserveDiskBytes: 0 } });
    const client = new TestUploadClient(relay.url);
    const [token] = await tokens(1);
    // The relay's own connection may not add a page to the file: SQLite answers SQLITE_FULL, as on a full disk.
    const pages = relay.db.pragma('page_count', { simple: true }) as number;
    relay.db.pragma(`max_page_count = ${pages}`);
    try {
      const refused = await client.init(token!, manifest('41', 1024, 2000));
      expect(refused.status).toBe(507);
      expect(refused.body).toMatchObject({ error: { code: 'STORAGE_FULL' } });
    } finally {
      relay.db.pragma('max_page_count = 1073741823');
    }
    expect((await client.init(token!, manifest('41', 1024, 2000))).status).toBe(201);
  });
});

describe.skipIf(!CAN_MOUNT)('a full disk (tmpfs, root)', () => {
  it('refuses a chunk with 507 that would leave less than reserveDiskBytes, and takes it once space is back', async () => {
    await relayOnSmallDisk(16 * MiB, { minFreeDiskBytes: 0, reserveDiskBytes: 4 * MiB });
    const client = new TestUploadClient(relay!.url);
    const [token] = await tokens(1);
    const bytes = randomBytes(4 * MiB);
    const init = await client.init(token!, manifest('31', bytes.length, 1, bytes));
    expect(init.status).toBe(201);
    // Something else fills the disk after the upload was admitted: 6 MiB free would be 2 MiB after the chunk.
    const filler = join(disk!.path, 'filler');
    await writeFile(filler, Buffer.alloc(Math.floor(await disk!.freeBytes()) - 6 * MiB));
    // The relay reuses a reading of the disk for a quarter of a second (FreeSpace): one taken since.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = await client.chunk(init.body.uploadId, init.body.uploadToken, 0, 0, bytes);
    expect(refused.status).toBe(507);
    expect(refused.body).toMatchObject({ error: { code: 'STORAGE_FULL' } });
    // Nothing is delivering that would free space: a long wait (clients watch /readyz meanwhile).
    expect(refused.headers.get('retry-after')).toBe('300');
    await rm(filler);
    expect((await client.chunk(init.body.uploadId, init.body.uploadToken, 0, 0, bytes)).status).toBe(200);
  });

  it('answers 507, never 500, when a write meets a full file system (ENOSPC), and takes the chunk once space is back', async () => {
    // Out of inodes: the disk reports free bytes, so the chunk is let through, and creating its
    // folder or file fails with ENOSPC as on a full disk.
    await relayOnSmallDisk(16 * MiB, { minFreeDiskBytes: 0, reserveDiskBytes: 0 }, 64);
    const client = new TestUploadClient(relay!.url);
    const [token] = await tokens(1);
    const bytes = randomBytes(64 * 1024);
    const init = await client.init(token!, manifest('41', bytes.length, 1, bytes));
    expect(init.status).toBe(201);
    const fillers: string[] = [];
    for (;;) {
      const path = join(disk!.path, `filler-${fillers.length}`);
      try {
        await writeFile(path, '');
      } catch {
        break;
      }
      fillers.push(path);
    }
    const refused = await client.chunk(init.body.uploadId, init.body.uploadToken, 0, 0, bytes);
    expect(refused.status).toBe(507);
    expect(refused.body).toMatchObject({ error: { code: 'STORAGE_FULL' } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const status = await client.request('GET', `/upload/${init.body.uploadId}/status`, init.body.uploadToken);
    expect(status.body).toMatchObject({ receivedBytes: 0 });
    await Promise.all(fillers.map((path) => rm(path)));
    expect((await client.chunk(init.body.uploadId, init.body.uploadToken, 0, 0, bytes)).status).toBe(200);
  });

  it('storage leaves no file behind when a whole instance does not fit (ENOSPC)', async () => {
    disk = await SmallDisk.mount(MiB);
    const storage = new LocalDiskStorage(join(disk.path, 'uploads'));
    const before = await disk.freeBytes();
    await expect(storage.writePiece('u1', 0, { offset: 0, length: 2 * MiB }, Readable.from([randomBytes(2 * MiB)]))).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(await readdir(join(disk.path, 'uploads', 'u1'))).toEqual([]);
    expect(await disk.freeBytes()).toBe(before);
  });
});
