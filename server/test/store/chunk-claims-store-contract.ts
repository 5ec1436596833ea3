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

    it('keeps a claim whose holder touches it, and hands a silent one over: refused once, marked superseded, then free', async () => {
      const moving = (await claims.claim('u1', 0, [0, 100], 'relay-a', STALE_MS))!;
      const silent = (await claims.claim('u1', 0, [100, 200], 'relay-a', STALE_MS))!;
      const none = { superseded: new Set(), missing: new Set() };
      for (let beat = 0; beat < 4; beat++) {
        await sleep(STALE_MS / 2);
        expect(await claims.touch([moving], [moving, silent])).toEqual(none);
      }
      // The silent claim is now stale: the clashing claim is refused but marks it superseded...
      expect(await claims.claim('u1', 0, [0, 200], 'relay-b', STALE_MS)).toBeUndefined();
      expect(await claims.touch([moving], [moving, silent])).toEqual({ superseded: new Set([silent]), missing: new Set() });
      // ...so the retry of just its range goes through, before its holder released it; the moving one still holds.
      const retry = await claims.claim('u1', 0, [100, 200], 'relay-b', STALE_MS);
      expect(retry).toBeTypeOf('string');
      expect(await claims.claim('u1', 0, [0, 100], 'relay-b', STALE_MS)).toBeUndefined();
      await claims.release(silent);
      expect(await claims.touch([], [moving, retry!])).toEqual(none);
    });

    it('tells a holder which of its claims the store lost, and takes them back as they were', async () => {
      const first = (await claims.claim('u1', 0, [0, 100], 'relay-a', LONG_MS))!;
      const second = (await claims.claim('u1', 1, [0, 100], 'relay-a', LONG_MS))!;
      await sleep(20);
      expect(await claims.prune(10)).toBe(2); // as a database's crash recovery empties the table
      expect(await claims.touch([first], [first, second])).toEqual({ superseded: new Set(), missing: new Set([first, second]) });
      await claims.restore([{ id: first, uploadId: 'u1', index: 0, range: [0, 100], holder: 'relay-a' }]);
      await claims.restore([{ id: first, uploadId: 'u1', index: 0, range: [0, 100], holder: 'relay-a' }]); // twice: once
      expect(await claims.touch([], [first, second])).toEqual({ superseded: new Set(), missing: new Set([second]) });
      expect(await claims.claim('u1', 0, [50, 60], 'relay-b', LONG_MS)).toBeUndefined();
      await claims.release(first);
      expect(await claims.claim('u1', 0, [50, 60], 'relay-b', LONG_MS)).toBeTypeOf('string');
    });

    it('never lets two of several relays claiming one range at once have it, and a retry gets it', async () => {
      for (let round = 0; round < 5; round++) {
        const results = await Promise.all(['a', 'b', 'c', 'd'].map((relay, i) => claims.claim('race', round, [i * 10, 100 + i * 10], relay, LONG_MS)));
        const granted = results.filter((id) => id !== undefined);
        // At most one (PostgreSQL's optimistic claim may refuse all of a race: each client retries).
        expect(granted.length).toBeLessThanOrEqual(1);
        for (const id of granted) await claims.release(id!);
        expect(await claims.claim('race', round, [0, 100], 'e', LONG_MS)).toBeTypeOf('string');
      }
    });

    it('prunes the claims a dead holder left, and no live one', async () => {
      const left = (await claims.claim('u1', 0, [0, 100], 'dead-relay', LONG_MS))!;
      await sleep(STALE_MS + 50); // timers may fire a little early by the store's clock
      const live = (await claims.claim('u1', 1, [0, 100], 'relay-a', LONG_MS))!;
      expect(await claims.prune(STALE_MS)).toBe(1);
      expect((await claims.touch([], [left, live])).missing).toEqual(new Set([left]));
      expect(await claims.prune(STALE_MS)).toBe(0);
    });
  });
}
