// The expiry sweep on relays sharing one database: one relay at a time sweeps (its job lease), and
// another takes over once the holder stops renewing or hands the lease back.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RelayMetrics } from '../../src/ops/relay-metrics.js';
import { LocalDiskStorage } from '../../src/storage/local-disk-storage.js';
import { UploadExpiry } from '../../src/upload/upload-expiry.js';
import { openTempSqliteStore, type TempSqliteStore } from '../store/sqlite-temp-store.js';
import { testClock } from '../store/store-under-test.js';

describe('upload expiry across relays sharing a database', () => {
  const clock = testClock();
  let temp: TempSqliteStore;
  let dir: string;
  let storage: LocalDiskStorage;
  const INTERVAL_SECONDS = 60;
  const expiryOf = (instanceName: string) => new UploadExpiry({
    uploads: temp.store.uploads, jobLeases: temp.store.jobLeases, chunkClaims: temp.store.chunkClaims, instanceName, storage, metrics: new RelayMetrics(), now: clock.now,
    intervalSeconds: INTERVAL_SECONDS, log: () => undefined,
  });
  /** An upload receiving, with one piece in storage, expiring `seconds` from now. */
  async function abandonedUpload(id: string, userId: number, seconds: number): Promise<void> {
    await temp.store.uploads.insert({
      id, userId, studyInstanceUid: '2.25.1', serviceLevel: 'ROUTINE', manifestHash: id, chunkBytes: 4, totalBytes: 4,
      expiresAt: new Date(clock.now().getTime() + seconds * 1000).toISOString(),
      instances: [{ sopInstanceUid: `2.25.1.${id.length}`, sopClassUid: '1.2.3', size: 4, sha256: 'a'.repeat(64), state: 'receiving' }],
    }, clock.now().toISOString());
    await storage.writePiece(id, 0, { offset: 0, length: 4 }, Readable.from([Buffer.from('data')]));
  }

  beforeEach(async () => {
    temp = await openTempSqliteStore(clock.now);
    dir = await mkdtemp(join(tmpdir(), 'relaypacs-expiry-'));
    storage = new LocalDiskStorage(join(dir, 'uploads'));
  });
  afterEach(async () => {
    await temp.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('sweeps on the relay holding the lease only, and on another once the holder is gone', async () => {
    const { id: userId } = await temp.store.users.create('alice', 'radiographer', 'hash');
    const a = expiryOf('relay-a');
    const b = expiryOf('relay-b');
    await abandonedUpload('first', userId, 10);
    clock.advance(11_000);
    expect(await a.sweep()).toEqual({ expired: 1, orphans: 0 });
    await expect(stat(join(dir, 'uploads', 'first'))).rejects.toThrow(/ENOENT/);
    await abandonedUpload('second', userId, 10);
    clock.advance(11_000);
    // relay-a holds the lease: relay-b leaves the sweep to it.
    expect(await b.sweep()).toEqual({ expired: 0, orphans: 0 });
    expect((await temp.store.uploads.find('second'))?.state).toBe('receiving');
    // relay-a dies without handing the lease back: relay-b takes over once it lapses (2.5 intervals).
    clock.advance(INTERVAL_SECONDS * 2500);
    expect(await b.sweep()).toEqual({ expired: 1, orphans: 0 });
    expect(await a.sweep()).toEqual({ expired: 0, orphans: 0 });
    // relay-b stops gracefully: relay-a need not wait.
    await b.stop();
    await abandonedUpload('third', userId, 10);
    clock.advance(11_000);
    expect(await a.sweep()).toEqual({ expired: 1, orphans: 0 });
    await a.stop();
  });

  it('leaves the data of an upload completed between the listing and its expiry (on another relay, say)', async () => {
    const { id: userId } = await temp.store.users.create('bob', 'radiographer', 'hash');
    await abandonedUpload('raced', userId, 10);
    clock.advance(11_000);
    // Listed as expired, then accepted before this sweep got to it.
    const uploads = { ...temp.store.uploads, expiredUploadIds: async (now: string) => {
      const ids = await temp.store.uploads.expiredUploadIds(now);
      for (const id of ids) await temp.store.uploads.setUploadState(id, 'accepted', now, ['receiving']);
      return ids;
    } };
    const expiry = new UploadExpiry({
      uploads, jobLeases: temp.store.jobLeases, chunkClaims: temp.store.chunkClaims, instanceName: 'relay-a', storage, metrics: new RelayMetrics(), now: clock.now,
      intervalSeconds: INTERVAL_SECONDS, log: () => undefined,
    });
    expect(await expiry.sweep()).toEqual({ expired: 0, orphans: 0 });
    expect((await temp.store.uploads.find('raced'))?.state).toBe('accepted');
    expect(await storage.listUploads()).toContain('raced');
    await expiry.stop();
  });
});
