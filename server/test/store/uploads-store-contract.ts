// The UploadsStore contract (store/uploads-store.ts), written against the interfaces only: every
// backend runs it with its own factory (sqlite-relay-store.test.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InstanceState } from '../../src/protocol/upload-protocol.js';
import type { RelayStore } from '../../src/store/relay-store.js';
import type { ChunkRecord, NewUpload, UploadsStore } from '../../src/store/uploads-store.js';
import { testClock, type StoreFactory, type StoreUnderTest } from './store-under-test.js';

const HOUR_MS = 3600_000;
const STUDY = '1.2.826.0.1.3680043.1';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
const MR_IMAGE = '1.2.840.10008.5.1.4.1.1.4';

/** A distinct 64-hex-digit SHA-256 per letter. */
const sha = (letter: string) => letter.repeat(64);

/** One manifest instance per size; UIDs chosen so that sorting them would not give manifest order. */
export function manifest(sizes: readonly number[], states: readonly InstanceState[] = []): NewUpload['instances'] {
  return sizes.map((size, index) => ({
    sopInstanceUid: `1.2.3.${90 - index}`, sopClassUid: CT_IMAGE, size, sha256: sha('abcdef'[index % 6]!), state: states[index] ?? 'receiving',
  }));
}

/** Bytes as plain numbers: compares contents whatever the Uint8Array subclass (Buffer) or view. */
const bytes = (value: Uint8Array | undefined) => (value === undefined ? undefined : [...value]);

export function describeUploadsStoreContract(backend: string, open: StoreFactory): void {
  describe(`${backend}: uploads store`, () => {
    let clock: ReturnType<typeof testClock>;
    let subject: StoreUnderTest;
    let store: RelayStore;
    let uploads: UploadsStore;
    let alice: number;
    let bob: number;
    const now = () => clock.now().toISOString();
    const after = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();
    const newUpload = (id: string, overrides: Partial<NewUpload> = {}): NewUpload => {
      const upload: NewUpload = {
        id, userId: alice, studyInstanceUid: STUDY, serviceLevel: 'ROUTINE', manifestHash: 'manifest-1', chunkBytes: 64,
        totalBytes: 0, expiresAt: after(HOUR_MS), instances: manifest([100, 50]), ...overrides,
      };
      return { ...upload, totalBytes: upload.instances.reduce((sum, i) => sum + i.size, 0) };
    };
    const insert = (id: string, overrides: Partial<NewUpload> = {}) => uploads.insert(newUpload(id, overrides), now());
    const chunk = (offset: number, length: number, sha256State?: Uint8Array) => ({ offset, length, sha256: sha('c'), sha256State });
    const record = (id: string, index: number, offset: number, length: number, sha256State?: Uint8Array) =>
      uploads.recordChunk(id, index, chunk(offset, length, sha256State), now(), after(HOUR_MS));
    const sorted = (keys: { uploadId: string; index: number }[]) =>
      [...keys].sort((a, b) => a.uploadId.localeCompare(b.uploadId) || a.index - b.index);

    beforeEach(async () => {
      clock = testClock();
      subject = await open(clock.now);
      store = subject.store;
      uploads = store.uploads;
      alice = (await store.users.create('alice', 'radiographer', 'hash')).id;
      bob = (await store.users.create('bob', 'clinician', 'hash')).id;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('inserts an upload and its instances in manifest order, each in its given state with nothing received', async () => {
      const instances = manifest([100, 50, 7], ['receiving', 'already-delivered', 'receiving']);
      await insert('u1', { modality: 'CT', sourceWorkstation: 'ws-1', facility: 'east', instances });
      const created = now();
      expect(await uploads.find('u1')).toEqual({
        id: 'u1', userId: alice, studyInstanceUid: STUDY, modality: 'CT', serviceLevel: 'ROUTINE', clinicalHistory: null,
        sourceWorkstation: 'ws-1', manifestHash: 'manifest-1', state: 'receiving', chunkBytes: 64, totalBytes: 157,
        createdAt: created, updatedAt: created, expiresAt: after(HOUR_MS), completedAt: null, accessionNumber: null,
      });
      const records = await uploads.instances('u1');
      expect(records).toEqual(instances.map((instance, index) => ({
        uploadId: 'u1', index, sopInstanceUid: instance.sopInstanceUid, sopClassUid: CT_IMAGE, size: instance.size, sha256: instance.sha256,
        receivedBytes: 0, state: instance.state, transferSyntaxUid: null, rejectionCode: null, rejectionReason: null,
      })));
      expect(await uploads.instance('u1', 1)).toEqual(records[1]);
      expect(await uploads.instance('u1', 3)).toBeUndefined();
      expect(await uploads.find('nope')).toBeUndefined();
      expect(await uploads.instances('nope')).toEqual([]);
    });

    it('stores absent optional fields as null', async () => {
      await insert('u1', { clinicalHistory: 'cough' });
      expect(await uploads.find('u1')).toMatchObject({ modality: null, sourceWorkstation: null, clinicalHistory: 'cough' });
    });

    it('inserts an upload and its instances as one write: a manifest naming an instance twice leaves nothing', async () => {
      const [first, second] = manifest([10, 20]);
      await expect(insert('u1', { instances: [first!, { ...second!, sopInstanceUid: first!.sopInstanceUid }] })).rejects.toThrow();
      expect(await uploads.find('u1')).toBeUndefined();
      expect(await uploads.instances('u1')).toEqual([]);
      expect(await uploads.countAllActive()).toBe(0);
    });

    it('upgrades to STAT but never back, and gives a clinical history only when there is none', async () => {
      await insert('u1');
      clock.advance(1000);
      await uploads.upgrade('u1', { stat: false, clinicalHistory: 'cough' }, now());
      expect(await uploads.find('u1')).toMatchObject({ serviceLevel: 'ROUTINE', clinicalHistory: 'cough', updatedAt: now() });
      await uploads.upgrade('u1', { stat: true, clinicalHistory: 'fever' }, now());
      expect(await uploads.find('u1')).toMatchObject({ serviceLevel: 'STAT', clinicalHistory: 'cough' });
      await uploads.upgrade('u1', { stat: false }, now());
      expect(await uploads.find('u1')).toMatchObject({ serviceLevel: 'STAT', clinicalHistory: 'cough' });
    });

    it('finds the newest resumable upload of the same user, study and manifest: receiving or accepted only', async () => {
      await insert('old');
      clock.advance(1000);
      await insert('new');
      await insert('other-study', { studyInstanceUid: '1.2.9' });
      await insert('other-manifest', { manifestHash: 'manifest-2' });
      await insert('bobs', { userId: bob });
      expect((await uploads.findResumable(alice, STUDY, 'manifest-1'))?.id).toBe('new');
      expect((await uploads.findResumable(bob, STUDY, 'manifest-1'))?.id).toBe('bobs');
      expect((await uploads.findResumable(alice, '1.2.9', 'manifest-1'))?.id).toBe('other-study');
      expect(await uploads.findResumable(alice, STUDY, 'manifest-3')).toBeUndefined();

      await uploads.setUploadState('new', 'cancelled', now(), ['receiving']);
      expect((await uploads.findResumable(alice, STUDY, 'manifest-1'))?.id).toBe('old');
      clock.advance(1000);
      await insert('newest');
      await uploads.setUploadState('newest', 'expired', now(), ['receiving']);
      await uploads.setUploadState('old', 'accepted', now(), ['receiving']);
      // A client that lost the answer to complete finds its accepted upload again.
      expect(await uploads.findResumable(alice, STUDY, 'manifest-1')).toMatchObject({ id: 'old', state: 'accepted' });
    });

    it('counts uploads receiving data, per user and in all', async () => {
      for (const id of ['a1', 'a2', 'a3', 'a4']) await insert(id);
      await insert('b1', { userId: bob });
      await uploads.setUploadState('a3', 'accepted', now(), ['receiving']);
      await uploads.setUploadState('a4', 'cancelled', now(), ['receiving']);
      expect(await uploads.countActive(alice)).toBe(2);
      expect(await uploads.countActive(bob)).toBe(1);
      expect(await uploads.countActive(bob + alice + 1)).toBe(0);
      expect(await uploads.countAllActive()).toBe(3);
      await uploads.setUploadState('b1', 'expired', now(), ['receiving']);
      expect(await uploads.countAllActive()).toBe(2);
    });

    it('sums the bytes still to receive of instances receiving, in uploads receiving and active since the moment given', async () => {
      const t0 = now();
      await insert('older', { instances: manifest([10]) });
      clock.advance(1000);
      const t1 = now();
      await insert('newer', { instances: manifest([100, 50, 7], ['receiving', 'receiving', 'already-delivered']) });
      expect(await uploads.bytesToReceive(t0)).toBe(10 + 150);
      expect(await uploads.bytesToReceive(t1)).toBe(150);
      await record('newer', 0, 0, 30);
      await record('newer', 1, 0, 50); // instance 1 is received whole: nothing left to send
      expect(await uploads.bytesToReceive(t1)).toBe(70);
      clock.advance(1000);
      await record('older', 0, 0, 4); // activity brings the older upload into a later window
      expect(await uploads.bytesToReceive(now())).toBe(6);
      await uploads.setUploadState('older', 'cancelled', now(), ['receiving']);
      await uploads.setUploadState('newer', 'accepted', now(), ['receiving']);
      expect(await uploads.bytesToReceive(t0)).toBe(0);
    });

    it('records chunks: received bytes add up, the expiry is renewed, and the last byte makes the instance received', async () => {
      await insert('u1');
      clock.advance(1000);
      expect(await record('u1', 0, 0, 40)).toEqual({ recorded: true, receivedBytes: 40 });
      expect(await uploads.find('u1')).toMatchObject({ updatedAt: now(), expiresAt: after(HOUR_MS) });
      clock.advance(1000);
      expect(await record('u1', 0, 60, 40)).toEqual({ recorded: true, receivedBytes: 80 });
      expect(await uploads.find('u1')).toMatchObject({ updatedAt: now(), expiresAt: after(HOUR_MS) });
      expect(await uploads.instance('u1', 0)).toMatchObject({ receivedBytes: 80, state: 'receiving' });
      expect(await record('u1', 0, 40, 20)).toEqual({ recorded: true, receivedBytes: 100 });
      expect(await uploads.instance('u1', 0)).toMatchObject({ receivedBytes: 100, state: 'received' });
      expect(await uploads.instance('u1', 1)).toMatchObject({ receivedBytes: 0, state: 'receiving' });
      // By offset, whatever order they came in.
      expect((await uploads.chunks('u1', 0)).map(({ offset, length, sha256 }) => ({ offset, length, sha256 }))).toEqual([
        { offset: 0, length: 40, sha256: sha('c') }, { offset: 40, length: 20, sha256: sha('c') }, { offset: 60, length: 40, sha256: sha('c') },
      ]);
      expect(await uploads.chunks('u1', 1)).toEqual([]);
      expect(await uploads.chunks('nope', 0)).toEqual([]);
    });

    it('refuses a chunk overlapping one already recorded, and counts nothing of it', async () => {
      await insert('u1');
      await record('u1', 0, 20, 40); // [20, 60)
      for (const [offset, length] of [[20, 40], [0, 21], [59, 10], [30, 10], [0, 100]] as const) {
        expect((await record('u1', 0, offset, length)).recorded, `[${offset}, ${offset + length})`).toBe(false);
      }
      expect(await uploads.instance('u1', 0)).toMatchObject({ receivedBytes: 40, state: 'receiving' });
      expect((await uploads.chunks('u1', 0)).map((c) => [c.offset, c.length])).toEqual([[20, 40]]);
      // Touching is not overlapping, and another instance's ranges are its own.
      expect(await record('u1', 0, 0, 20)).toEqual({ recorded: true, receivedBytes: 60 });
      expect(await record('u1', 0, 60, 10)).toEqual({ recorded: true, receivedBytes: 70 });
      expect(await record('u1', 1, 20, 10)).toEqual({ recorded: true, receivedBytes: 10 });
    });

    it('records one of two racing overlapping chunks, as relays sharing the database may receive them', async () => {
      await insert('u1');
      const results = await Promise.all([record('u1', 0, 0, 60), record('u1', 0, 40, 60), record('u1', 0, 10, 20)]);
      expect(results.filter((r) => r.recorded)).toHaveLength(1);
      const [won] = await uploads.chunks('u1', 0);
      expect(await uploads.instance('u1', 0)).toMatchObject({ receivedBytes: won!.length });
    });

    it('records no chunk once the upload is cancelled or expired, nor for an unknown upload', async () => {
      for (const state of ['cancelled', 'expired'] as const) {
        await insert(state);
        const before = await uploads.find(state);
        expect(await uploads.setUploadState(state, state, now(), ['receiving'])).toBe(true);
        clock.advance(1000);
        expect((await record(state, 0, 0, 100)).recorded).toBe(false);
        expect(await uploads.chunks(state, 0)).toEqual([]);
        expect(await uploads.instance(state, 0)).toMatchObject({ receivedBytes: 0, state: 'receiving' });
        expect((await uploads.find(state))?.expiresAt).toBe(before?.expiresAt);
      }
      expect((await record('nope', 0, 0, 10)).recorded).toBe(false);
    });

    /** u1 (100, 50 and 10 bytes): [0, 20) and [50, 100) of its first instance, all of its third; u2: [0, 5) of its second. */
    const twoUploadsWithChunks = async () => {
      await insert('u1', { instances: manifest([100, 50, 10]) });
      await insert('u2');
      await record('u1', 0, 50, 50);
      await record('u1', 0, 0, 20);
      await record('u1', 2, 0, 10);
      await record('u2', 1, 0, 5);
    };

    it('answers every instance\'s recorded ranges in one read', async () => {
      await twoUploadsWithChunks();
      const ranges = await uploads.chunkRangesByInstance('u1');
      // Order within an instance is not promised (readers merge them); an instance without chunks may be absent or empty.
      const normalized = [0, 1, 2].map((index) => [...(ranges.get(index) ?? [])].sort((a, b) => a[0] - b[0]));
      expect(normalized).toEqual([[[0, 20], [50, 100]], [], [[0, 10]]]);
      expect([...ranges.keys()].every((index) => [0, 1, 2].includes(index))).toBe(true);
      expect([...(await uploads.chunkRangesByInstance('nope')).values()].flat()).toEqual([]);
    });

    it('answers several instances\' chunks in one read, in the order asked, each by offset', async () => {
      await twoUploadsWithChunks();
      const spans = (chunks: ChunkRecord[][]) => chunks.map((list) => list.map((c) => [c.offset, c.length]));
      expect(spans(await uploads.chunksOf([{ uploadId: 'u2', index: 1 }, { uploadId: 'u1', index: 0 }, { uploadId: 'u1', index: 1 },
        { uploadId: 'nope', index: 0 }, { uploadId: 'u1', index: 2 }]))).toEqual([[[0, 5]], [[0, 20], [50, 50]], [], [], [[0, 10]]]);
      expect((await uploads.chunksOf([{ uploadId: 'u1', index: 2 }]))[0]).toEqual(await uploads.chunks('u1', 2));
      expect(await uploads.chunksOf([])).toEqual([]);
    });

    it('answers what a chunk request checks in one read: the upload, the instance and its chunks', async () => {
      await insert('u1');
      await record('u1', 0, 60, 40);
      await record('u1', 0, 0, 20);
      expect(await uploads.chunkTarget('u1', 0)).toEqual({
        upload: await uploads.find('u1'), instance: await uploads.instance('u1', 0), chunks: await uploads.chunks('u1', 0),
      });
      expect((await uploads.chunkTarget('u1', 0))!.chunks.map((c) => c.offset)).toEqual([0, 60]);
      expect(await uploads.chunkTarget('u1', 1)).toEqual({ upload: await uploads.find('u1'), instance: await uploads.instance('u1', 1), chunks: [] });
      // An index the manifest lacks: the upload, no instance; an unknown upload: nothing.
      expect(await uploads.chunkTarget('u1', 7)).toEqual({ upload: await uploads.find('u1'), instance: undefined, chunks: [] });
      expect(await uploads.chunkTarget('nope', 0)).toBeUndefined();
    });

    describe('carried SHA-256 states', () => {
      // Every byte value, taken from the middle of a larger buffer so a view's offset matters.
      const backing = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
      const s1 = backing.subarray(1, 65);
      const s2 = backing.subarray(200, 300);
      const t1 = Uint8Array.of(0, 255, 0, 1);

      beforeEach(async () => {
        await insert('u1');
        await insert('u2');
        await record('u1', 0, 0, 40, s1);
        await record('u1', 0, 40, 30, s2);
        await record('u1', 0, 70, 30); // carried none
        await record('u1', 1, 0, 10, t1);
        await record('u2', 0, 0, 40, t1);
      });

      it('answers the state after the chunk ending at an offset, byte for byte', async () => {
        const state = await uploads.hashStateEndingAt('u1', 0, 40);
        expect(state).toBeInstanceOf(Uint8Array);
        expect(bytes(state)).toEqual([...s1]);
        expect(bytes(await uploads.hashStateEndingAt('u1', 0, 70))).toEqual([...s2]);
        expect(bytes(await uploads.hashStateEndingAt('u1', 1, 10))).toEqual([...t1]);
        expect(await uploads.hashStateEndingAt('u1', 0, 100)).toBeUndefined(); // that chunk carried none
        expect(await uploads.hashStateEndingAt('u1', 0, 50)).toBeUndefined(); // no chunk ends there
        expect(await uploads.hashStateEndingAt('u1', 1, 40)).toBeUndefined();
      });

      it('answers the furthest state an instance\'s chunks carry, with where it ends', async () => {
        const furthest = await uploads.furthestHashState('u1', 0);
        expect(furthest?.end).toBe(70);
        expect(bytes(furthest?.state)).toEqual([...s2]);
        expect(await uploads.furthestHashState('u1', 2)).toBeUndefined();
      });

      it('forgets one instance\'s states, then the whole upload\'s, keeping the chunks and other uploads\' states', async () => {
        await uploads.forgetHashStates('u1', 0);
        expect(await uploads.hashStateEndingAt('u1', 0, 40)).toBeUndefined();
        expect(await uploads.furthestHashState('u1', 0)).toBeUndefined();
        expect(bytes(await uploads.hashStateEndingAt('u1', 1, 10))).toEqual([...t1]);
        expect(await uploads.chunks('u1', 0)).toHaveLength(3);
        await uploads.forgetHashStates('u1');
        expect(await uploads.furthestHashState('u1', 1)).toBeUndefined();
        expect(await uploads.instance('u1', 0)).toMatchObject({ receivedBytes: 100 });
        expect(bytes((await uploads.furthestHashState('u2', 0))?.state)).toEqual([...t1]);
      });
    });

    it('sets an instance\'s state with its transfer syntax or its rejection', async () => {
      await insert('u1', { instances: manifest([10, 10, 10]) });
      await uploads.setInstanceState('u1', 0, 'verified', { transferSyntaxUid: EXPLICIT_LE });
      await uploads.setInstanceState('u1', 1, 'rejected', { rejectionCode: 'CHECKSUM_MISMATCH', rejectionReason: 'SHA-256 differs' });
      expect((await uploads.instances('u1')).map(({ state, transferSyntaxUid, rejectionCode, rejectionReason }) =>
        ({ state, transferSyntaxUid, rejectionCode, rejectionReason }))).toEqual([
        { state: 'verified', transferSyntaxUid: EXPLICIT_LE, rejectionCode: null, rejectionReason: null },
        { state: 'rejected', transferSyntaxUid: null, rejectionCode: 'CHECKSUM_MISMATCH', rejectionReason: 'SHA-256 differs' },
        { state: 'receiving', transferSyntaxUid: null, rejectionCode: null, rejectionReason: null },
      ]);
      await uploads.setInstanceState('u1', 2, 'received');
      expect(await uploads.instance('u1', 2)).toMatchObject({ state: 'received', receivedBytes: 0 });
    });

    it('moves an upload only from the states given, answering whether it did; accepting stamps completedAt', async () => {
      await insert('u1');
      await insert('u2');
      clock.advance(1000);
      expect(await uploads.setUploadState('u1', 'accepted', now(), ['receiving'])).toBe(true);
      expect(await uploads.find('u1')).toMatchObject({ state: 'accepted', updatedAt: now(), completedAt: now() });
      const accepted = now();
      clock.advance(1000);
      expect(await uploads.setUploadState('u1', 'cancelled', now(), ['receiving'])).toBe(false);
      expect(await uploads.find('u1')).toMatchObject({ state: 'accepted', updatedAt: accepted, completedAt: accepted });
      expect(await uploads.setUploadState('u2', 'cancelled', now(), ['receiving', 'accepted'])).toBe(true);
      expect(await uploads.find('u2')).toMatchObject({ state: 'cancelled', updatedAt: now(), completedAt: null });
      expect(await uploads.setUploadState('nope', 'cancelled', now(), ['receiving'])).toBe(false);
      // From no state at all: never (not a query error either: PostgreSQL refuses an empty IN list).
      expect(await uploads.setUploadState('u2', 'expired', now(), [])).toBe(false);
    });

    it('lets one of racing moves from the same state win (complete against cancel)', async () => {
      await insert('u1');
      const moves = await Promise.all([
        uploads.setUploadState('u1', 'accepted', now(), ['receiving']), uploads.setUploadState('u1', 'cancelled', now(), ['receiving']),
      ]);
      expect(moves.filter(Boolean)).toHaveLength(1);
      expect((await uploads.find('u1'))?.state).toBe(moves[0] ? 'accepted' : 'cancelled');
    });

    it('lists received instances not yet verified, of uploads receiving or accepted', async () => {
      for (const id of ['a', 'b', 'c']) await insert(id, { instances: manifest([10, 10, 10]) });
      await record('a', 1, 0, 10); // its last byte makes it received
      await uploads.setInstanceState('a', 2, 'verified', { transferSyntaxUid: EXPLICIT_LE });
      await uploads.setInstanceState('b', 0, 'received');
      await uploads.setUploadState('b', 'accepted', now(), ['receiving']);
      await uploads.setInstanceState('c', 0, 'received');
      await uploads.setUploadState('c', 'cancelled', now(), ['receiving']);
      expect(sorted(await uploads.unverifiedInstances())).toEqual([{ uploadId: 'a', index: 1 }, { uploadId: 'b', index: 0 }]);
    });

    it('lists verified instances of live uploads that have no delivery item', async () => {
      for (const id of ['a', 'b', 'c']) await insert(id, { instances: manifest([10, 10, 10]) });
      for (const [id, index] of [['a', 0], ['a', 1], ['b', 2], ['c', 0]] as const) {
        await uploads.setInstanceState(id, index, 'verified', { transferSyntaxUid: EXPLICIT_LE });
      }
      await uploads.setInstanceState('a', 2, 'rejected', { rejectionCode: 'MALFORMED', rejectionReason: 'no' });
      await store.deliveries.enqueue('a', 1, ['pacs'], now());
      await uploads.setUploadState('b', 'accepted', now(), ['receiving']);
      await uploads.setUploadState('c', 'cancelled', now(), ['receiving']);
      expect(sorted(await uploads.verifiedWithoutDelivery())).toEqual([{ uploadId: 'a', index: 0 }, { uploadId: 'b', index: 2 }]);
    });

    it('lists uploads receiving data whose expiry is before now', async () => {
      await insert('soon', { expiresAt: after(1000) });
      await insert('later', { expiresAt: after(2000) });
      for (const id of ['cancelled', 'accepted']) await insert(id, { expiresAt: after(500) });
      await uploads.setUploadState('cancelled', 'cancelled', now(), ['receiving']);
      await uploads.setUploadState('accepted', 'accepted', now(), ['receiving']);
      expect(await uploads.expiredUploadIds(after(1000))).toEqual([]); // at its expiry, not yet before it
      expect(await uploads.expiredUploadIds(after(1001))).toEqual(['soon']);
      expect([...await uploads.expiredUploadIds(after(3000))].sort()).toEqual(['later', 'soon']);
    });

    it('expires an upload only while it is receiving and its expiry is still before now', async () => {
      await insert('idle', { expiresAt: after(1000) });
      await insert('accepted', { expiresAt: after(500) });
      await uploads.setUploadState('accepted', 'accepted', now(), ['receiving']);
      expect(await uploads.expire('idle', after(1000))).toBe(false); // at its expiry, not yet past it
      expect(await uploads.expire('accepted', after(5000))).toBe(false);
      expect(await uploads.expire('unknown', after(5000))).toBe(false);
      // A chunk recorded after the listing renews the expiry: the upload lives on.
      expect((await uploads.recordChunk('idle', 0, { offset: 0, length: 10, sha256: 'a'.repeat(64) }, now(), after(9000))).recorded).toBe(true);
      expect(await uploads.expire('idle', after(5000))).toBe(false);
      expect(await uploads.expire('idle', after(9001))).toBe(true);
      expect(await uploads.find('idle')).toMatchObject({ state: 'expired', updatedAt: after(9001) });
      expect(await uploads.expire('idle', after(9002))).toBe(false);
    });

    it('lets the data of cancelled, expired and unknown uploads go, never of live ones', async () => {
      for (const id of ['receiving', 'accepted', 'cancelled', 'expired']) await insert(id);
      for (const state of ['accepted', 'cancelled', 'expired'] as const) await uploads.setUploadState(state, state, now(), ['receiving']);
      expect(await uploads.isDisposable('receiving')).toBe(false);
      expect(await uploads.isDisposable('accepted')).toBe(false);
      expect(await uploads.isDisposable('cancelled')).toBe(true);
      expect(await uploads.isDisposable('expired')).toBe(true);
      expect(await uploads.isDisposable('unknown')).toBe(true);
    });

    it('knows which instances a PACS already holds with these very bytes', async () => {
      const [a, b, c] = [{ sopInstanceUid: '1.1', sha256: sha('a') }, { sopInstanceUid: '1.2', sha256: sha('b') }, { sopInstanceUid: '1.3', sha256: sha('c') }];
      expect(await uploads.alreadyDelivered([a, b, c])).toEqual(new Set());
      await store.deliveries.markDelivered([{ sopInstanceUid: a.sopInstanceUid, sha256: a.sha256 }], now());
      await store.deliveries.markDelivered([{ sopInstanceUid: a.sopInstanceUid, sha256: a.sha256 }], now()); // again: no harm
      await store.deliveries.markDelivered([{ sopInstanceUid: b.sopInstanceUid, sha256: sha('f') }], now());
      await store.deliveries.markDelivered([{ sopInstanceUid: '1.9', sha256: c.sha256 }], now());
      expect(await uploads.alreadyDelivered([a, b, c])).toEqual(new Set(['1.1']));
      expect(await uploads.alreadyDelivered([])).toEqual(new Set());
    });

    it('answers what routing needs of an instance, with its upload\'s owner', async () => {
      const instances = manifest([10, 10]).map((instance, index) => ({ ...instance, sopClassUid: index === 1 ? MR_IMAGE : CT_IMAGE }));
      await insert('full', { userId: bob, modality: 'MR', serviceLevel: 'STAT', sourceWorkstation: 'ws-9', facility: 'east-wing', instances });
      await insert('bare');
      expect(await uploads.routingFacts('full', 1)).toEqual({
        userId: bob, username: 'bob', modality: 'MR', serviceLevel: 'STAT', sourceWorkstation: 'ws-9', facility: 'east-wing', sopClassUid: MR_IMAGE,
      });
      expect(await uploads.routingFacts('bare', 0)).toEqual({
        userId: alice, username: 'alice', modality: null, serviceLevel: 'ROUTINE', sourceWorkstation: null, facility: null, sopClassUid: CT_IMAGE,
      });
      expect(await uploads.routingFacts('full', 2)).toBeUndefined();
      expect(await uploads.routingFacts('nope', 0)).toBeUndefined();
    });

    it('commits writes through a transaction\'s uploads together, or rolls them all back when the work throws', async () => {
      await insert('kept');
      await expect(store.withTransaction(async (tx) => {
        await tx.uploads.insert(newUpload('dropped'), now());
        await tx.uploads.recordChunk('kept', 0, chunk(0, 100), now(), after(2 * HOUR_MS));
        await tx.uploads.setUploadState('kept', 'accepted', now(), ['receiving']);
        expect((await tx.uploads.instance('kept', 0))?.state).toBe('received'); // the work sees its own writes
        throw new Error('rolled back');
      })).rejects.toThrow('rolled back');
      expect(await uploads.find('dropped')).toBeUndefined();
      expect(await uploads.instances('dropped')).toEqual([]);
      expect(await uploads.find('kept')).toMatchObject({ state: 'receiving', expiresAt: after(HOUR_MS) });
      expect(await uploads.instance('kept', 0)).toMatchObject({ receivedBytes: 0, state: 'receiving' });
      expect(await uploads.chunks('kept', 0)).toEqual([]);

      await store.withTransaction(async (tx) => {
        await tx.uploads.recordChunk('kept', 0, chunk(0, 100), now(), after(2 * HOUR_MS));
        await tx.uploads.setUploadState('kept', 'accepted', now(), ['receiving']);
      });
      expect(await uploads.find('kept')).toMatchObject({ state: 'accepted', expiresAt: after(2 * HOUR_MS) });
      expect(await uploads.instance('kept', 0)).toMatchObject({ receivedBytes: 100, state: 'received' });
    });
  });
}
