// The instance's SHA-256 carried from chunk to chunk (resumable-sha256.ts, hash-carrier.ts,
// instance-digest.ts): verification reads only what the carried hash does not cover, and the hash
// goes on across a restart of the relay from the state its database kept.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDiskStorage } from '../../src/storage/local-disk-storage.js';
import type { ByteSink, PieceRange, TemporaryStorage } from '../../src/storage/storage.js';
import { HashCarrier } from '../../src/upload/hash-carrier.js';
import { instanceSha256, type RecordedPiece } from '../../src/upload/instance-digest.js';
import { ResumableSha256 } from '../../src/upload/resumable-sha256.js';
import { openSqliteRelayStore, type SqliteRelayStore } from '../../src/store/sqlite/sqlite-relay-store.js';
import type { UploadsStore } from '../../src/store/uploads-store.js';

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-carried-hash-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** The storage, counting the bytes read through it. */
function counting(storage: TemporaryStorage): { storage: TemporaryStorage; bytesRead: () => number } {
  let read = 0;
  const wrapped: TemporaryStorage = Object.create(storage) as TemporaryStorage;
  wrapped.readRange = (uploadId: string, index: number, pieces: readonly PieceRange[], start: number, end: number) => {
    read += end - start;
    return storage.readRange(uploadId, index, pieces, start, end);
  };
  wrapped.feedRange = (uploadId: string, index: number, pieces: readonly PieceRange[], start: number, end: number, sink: ByteSink) => {
    read += end - start;
    return storage.feedRange(uploadId, index, pieces, start, end, sink);
  };
  return { storage: wrapped, bytesRead: () => read };
}

async function writePieces(storage: TemporaryStorage, uploadId: string, data: Buffer, cuts: number[]): Promise<RecordedPiece[]> {
  const bounds = [0, ...cuts, data.length];
  return Promise.all(bounds.slice(1).map(async (end, i) => {
    const offset = bounds[i]!;
    const written = await storage.writePiece(uploadId, 0, { offset, length: end - offset }, Readable.from([data.subarray(offset, end)]));
    return { offset, length: end - offset, sha256: written.sha256 };
  }));
}

describe('resumable SHA-256', () => {
  it('saves its state mid-way and goes on from it in another hasher, as Node hashes the whole', async () => {
    const data = randomBytes(100_003);
    const first = (await ResumableSha256.start())!;
    first.update(data.subarray(0, 40_001));
    const state = first.save();
    first.dispose();
    const resumed = (await ResumableSha256.start(state))!;
    resumed.update(data.subarray(40_001));
    expect(resumed.digest()).toBe(sha(data));
  });

  it('refuses a state it did not save (another build of hash-wasm, a damaged record)', async () => {
    expect(await ResumableSha256.start(new Uint8Array(12))).toBeUndefined();
    // The hasher it gave back is sound.
    const fresh = (await ResumableSha256.start())!;
    fresh.update(Buffer.from('abc'));
    expect(fresh.digest()).toBe(sha(Buffer.from('abc')));
  });
});

describe('instance SHA-256 at verification', () => {
  let disk: LocalDiskStorage;
  beforeAll(() => {
    disk = new LocalDiskStorage(join(workDir, 'uploads-digest'));
  });

  it('reads nothing for an instance in one piece, or when the carried hash reached its end', async () => {
    const data = randomBytes(300_000);
    const { storage, bytesRead } = counting(disk);
    const whole = await writePieces(disk, 'one', data, []);
    expect(await instanceSha256(storage, 'one', 0, data.length, whole)).toBe(sha(data));
    const pieces = await writePieces(disk, 'carried', data, [100_000, 200_000]);
    const hash = (await ResumableSha256.start())!;
    hash.update(data);
    expect(await instanceSha256(storage, 'carried', 0, data.length, pieces, { end: data.length, state: hash.save() })).toBe(sha(data));
    hash.dispose();
    expect(bytesRead()).toBe(0);
  });

  it('reads only the few bytes after the carried hash; all of them when many are left, without a hash or with one it cannot load', async () => {
    const data = randomBytes(300_000);
    const pieces = await writePieces(disk, 'partly', data, [100_000, 280_000]);
    const stateAfter = async (end: number) => {
      const hash = (await ResumableSha256.start())!;
      hash.update(data.subarray(0, end));
      const state = hash.save();
      hash.dispose();
      return state;
    };
    const nearlyAll = await stateAfter(280_000);
    let counted = counting(disk);
    expect(await instanceSha256(counted.storage, 'partly', 0, data.length, pieces, { end: 280_000, state: nearlyAll })).toBe(sha(data));
    expect(counted.bytesRead()).toBe(20_000);
    // Two thirds left: Node's SHA-256 over all of it is quicker than resuming hash-wasm's.
    counted = counting(disk);
    expect(await instanceSha256(counted.storage, 'partly', 0, data.length, pieces, { end: 100_000, state: await stateAfter(100_000) })).toBe(sha(data));
    expect(counted.bytesRead()).toBe(300_000);
    counted = counting(disk);
    expect(await instanceSha256(counted.storage, 'partly', 0, data.length, pieces)).toBe(sha(data));
    expect(counted.bytesRead()).toBe(300_000);
    counted = counting(disk);
    expect(await instanceSha256(counted.storage, 'partly', 0, data.length, pieces, { end: 280_000, state: new Uint8Array(8) })).toBe(sha(data));
    expect(counted.bytesRead()).toBe(300_000);
    // Bytes that differ from what was carried give another digest: the carried state is no shortcut past them.
    const other = Buffer.from(data);
    other[290_000] = other[290_000]! ^ 1;
    const otherPieces = await writePieces(disk, 'differs', other, [100_000, 280_000]);
    expect(await instanceSha256(disk, 'differs', 0, data.length, otherPieces, { end: 280_000, state: nearlyAll })).not.toBe(sha(data));
  });
});

describe('the hash carried from chunk to chunk', () => {
  const CHUNK = 64 * 1024;
  let dbPath: string;
  let store: SqliteRelayStore;
  let disk: LocalDiskStorage;
  beforeAll(() => {
    dbPath = join(workDir, 'relay.db');
    store = openSqliteRelayStore(dbPath);
    disk = new LocalDiskStorage(join(workDir, 'uploads-carried'));
  });
  afterAll(async () => {
    await store.close();
  });

  /** Receives chunk `n` as the upload service does: the hash it carries fed while writing, the state kept with the record. */
  async function receive(repo: UploadsStore, carrier: HashCarrier, data: Buffer, n: number): Promise<void> {
    const offset = n * CHUNK;
    const bytes = data.subarray(offset, offset + CHUNK);
    const carried = await carrier.forChunk('up', 0, offset);
    try {
      const written = await disk.writePiece('up', 0, { offset, length: bytes.length }, Readable.from([bytes]), carried);
      const now = new Date().toISOString();
      expect((await repo.recordChunk('up', 0, { offset, length: bytes.length, sha256: written.sha256, sha256State: carried?.save() }, now, now)).recorded).toBe(true);
    } finally {
      carried?.dispose();
    }
  }

  it('goes on across a restart and stops at a chunk that overtook its predecessor', async () => {
    const data = randomBytes(8 * CHUNK + 123);
    let repo = store.uploads;
    store.database.prepare(`INSERT INTO users (id, username, role, password_hash, created_at) VALUES (1, 'u', 'device', 'x', '2030-01-01')`).run();
    await repo.insert({
      id: 'up', userId: 1, studyInstanceUid: '2.25.1', serviceLevel: 'ROUTINE', manifestHash: 'm', chunkBytes: CHUNK, totalBytes: data.length,
      expiresAt: '2999-01-01T00:00:00.000Z', instances: [{ sopInstanceUid: '2.25.1.1', sopClassUid: '1.2.3', size: data.length, sha256: sha(data), state: 'receiving' }],
    }, new Date().toISOString());
    let carrier = new HashCarrier(repo);
    for (let n = 0; n < 4; n++) await receive(repo, carrier, data, n);
    // In order: each chunk carried the hash as it was written.
    expect((await repo.furthestHashState('up', 0))?.end).toBe(4 * CHUNK);

    // The relay restarts: a new process, the same database.
    await store.close();
    store = openSqliteRelayStore(dbPath);
    repo = store.uploads;
    carrier = new HashCarrier(repo);
    await receive(repo, carrier, data, 4);
    await receive(repo, carrier, data, 5);
    await receive(repo, carrier, data, 6);
    expect((await repo.furthestHashState('up', 0))?.end).toBe(7 * CHUNK);
    // The last chunk overtakes the one before it (sent in parallel): it has no hash to carry on, nor has the chain after it.
    await receive(repo, carrier, data, 8);
    await receive(repo, carrier, data, 7);
    expect((await repo.furthestHashState('up', 0))?.end).toBe(8 * CHUNK);

    // Verification reads only the bytes after the chain: the overtaking chunk.
    const counted = counting(disk);
    const pieces = await repo.chunks('up', 0);
    expect(await instanceSha256(counted.storage, 'up', 0, data.length, pieces, await repo.furthestHashState('up', 0))).toBe(sha(data));
    expect(counted.bytesRead()).toBe(123);
    // Verified: the states (each holds a few bytes of the instance) are forgotten.
    await repo.forgetHashStates('up', 0);
    expect(await repo.furthestHashState('up', 0)).toBeUndefined();
  });
});
