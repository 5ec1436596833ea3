// The ChunkClaimsStore contract (store/chunk-claims-store.ts), written against the interface only.
// Staleness is judged by the store's own clock (the database's, on PostgreSQL), so these tests wait
// in real time, a few hundred milliseconds.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChunkClaimsStore } from '../../src/store/chunk-claims-store.js';
import type { StoreFactory, StoreUnderTest } from './store-under-test.js';

const STALE_MS = 150;
const LONG_MS = 60_000;

export function describeChunkClaimsStoreContract(backend: string, open: StoreFactory): void {
  describe(`${backend}: chunk claims`, () => {
    let subject: StoreUnderTest;
    let claims: ChunkClaimsStore;
    beforeEach(async () => {
      subject = await open(() => new Date());
      claims = subject.store.chunkClaims;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('claims ranges that do not overlap, refuses one that does, and frees a range on release', async () => {
      const first = await claims.claim('u1', 0, [0, 100], 'relay-a', LONG_MS);
      expect(first).toBeTypeOf('string');
      expect(await claims.claim('u1', 0, [100, 200], 'relay-b', LONG_MS)).toBeTypeOf('string'); // adjacent
      expect(await claims.claim('u1', 1, [0, 100], 'relay-b', LONG_MS)).toBeTypeOf('string'); // another instance
      expect(await claims.claim('u2', 0, [0, 100], 'relay-b', LONG_MS)).toBeTypeOf('string'); // another upload
      expect(await claims.claim('u1', 0, [50, 150], 'relay-b', LONG_MS)).toBeUndefined();
      expect(await claims.claim('u1', 0, [99, 100], 'relay-a', LONG_MS)).toBeUndefined();
      await claims.release(first!);
      await claims.release(first!); // gone already: nothing
      expect(await claims.claim('u1', 0, [0, 100], 'relay-b', LONG_MS)).toBeTypeOf('string');
    });

    it('keeps a claim whose holder touches it, and hands a silent one over: refused once, removed, then free', async () => {
      const moving = (await claims.claim('u1', 0, [0, 100], 'relay-a', STALE_MS))!;
      const silent = (await claims.claim('u1', 0, [100, 200], 'relay-a', STALE_MS))!;
      for (let beat = 0; beat < 4; beat++) {
        await sleep(STALE_MS / 2);
        expect(await claims.touch([moving], [moving, silent])).toEqual(new Set([moving, silent]));
      }
      // The silent claim is now stale: the clashing claim is refused but removes it...
      expect(await claims.claim('u1', 0, [0, 200], 'relay-b', STALE_MS)).toBeUndefined();
      expect(await claims.touch([moving], [moving, silent])).toEqual(new Set([moving]));
      // ...so the retry of just its range goes through; the moving one still holds.
      expect(await claims.claim('u1', 0, [100, 200], 'relay-b', STALE_MS)).toBeTypeOf('string');
      expect(await claims.claim('u1', 0, [0, 100], 'relay-b', STALE_MS)).toBeUndefined();
      expect(await claims.touch([], [moving])).toEqual(new Set([moving]));
    });

    it('lets exactly one of several relays claiming one range at once have it', async () => {
      for (let round = 0; round < 5; round++) {
        const results = await Promise.all(['a', 'b', 'c', 'd'].map((relay, i) => claims.claim('race', round, [i * 10, 100 + i * 10], relay, LONG_MS)));
        expect(results.filter((id) => id !== undefined)).toHaveLength(1);
      }
    });

    it('prunes the claims a dead holder left, and no live one', async () => {
      const left = (await claims.claim('u1', 0, [0, 100], 'dead-relay', LONG_MS))!;
      await sleep(STALE_MS + 50); // timers may fire a little early by the store's clock
      const live = (await claims.claim('u1', 1, [0, 100], 'relay-a', LONG_MS))!;
      expect(await claims.prune(STALE_MS)).toBe(1);
      expect(await claims.touch([], [left, live])).toEqual(new Set([live]));
      expect(await claims.prune(STALE_MS)).toBe(0);
    });
  });
}
