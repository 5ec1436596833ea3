// The EventsStore contract (store/events-store.ts), written against the interface only.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RelayEvent } from '../../src/protocol/event-protocol.js';
import type { EventsStore } from '../../src/store/events-store.js';
import { testClock, type StoreFactory, type StoreUnderTest } from './store-under-test.js';

const accepted = (uploadId: string): RelayEvent => ({ type: 'accepted', uploadId });

export function describeEventsStoreContract(backend: string, open: StoreFactory): void {
  describe(`${backend}: events store`, () => {
    const clock = testClock();
    let subject: StoreUnderTest;
    let events: EventsStore;
    const now = () => clock.now().toISOString();
    /** Keeps one event; its id. */
    const one = async (ownerUserId: number, event: RelayEvent) => (await events.append([{ ownerUserId, event }], now()))[0]!;
    beforeEach(async () => {
      subject = await open(clock.now);
      events = subject.store.events;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('gives increasing ids and answers the events after one, oldest first, per owner or for all, within a limit', async () => {
      expect(await events.latestId()).toBe(0);
      expect(await events.oldestId()).toBeUndefined();
      const forwarding: RelayEvent = { type: 'forwarding', uploadId: 'a', instance: 2, destinations: ['pacs', 'archive'] };
      const ids = [
        await one(1, forwarding),
        await one(2, accepted('b')),
        await one(1, accepted('c')),
      ];
      expect([...ids].sort((x, y) => x - y)).toEqual(ids);
      expect(new Set(ids).size).toBe(3);
      expect(await events.latestId()).toBe(ids[2]);
      expect(await events.oldestId()).toBe(ids[0]);
      expect(await events.after(0, 'all', 10)).toEqual([
        { id: ids[0], ownerUserId: 1, event: forwarding, at: now() },
        { id: ids[1], ownerUserId: 2, event: accepted('b'), at: now() },
        { id: ids[2], ownerUserId: 1, event: accepted('c'), at: now() },
      ]);
      expect((await events.after(ids[0]!, 1, 10)).map((e) => e.id)).toEqual([ids[2]]);
      expect((await events.after(0, 2, 10)).map((e) => e.id)).toEqual([ids[1]]);
      expect((await events.after(0, 'all', 2)).map((e) => e.id)).toEqual(ids.slice(0, 2));
      expect(await events.after(ids[2]!, 'all', 10)).toEqual([]);
    });

    it('keeps the newest when pruning, and never gives a pruned id again', async () => {
      const ids: number[] = [];
      for (let i = 0; i < 6; i++) ids.push(await one(1, accepted(`u${i}`)));
      expect(await events.prune(10)).toBe(0);
      expect(await events.prune(2)).toBe(4);
      expect((await events.after(0, 'all', 10)).map((e) => e.id)).toEqual(ids.slice(4));
      expect(await events.oldestId()).toBe(ids[4]);
      expect(await events.prune(0)).toBe(2);
      expect(await events.oldestId()).toBeUndefined();
      // What was given stays given: the next id is past every one before, and latestId says so.
      expect(await events.latestId()).toBe(ids[5]);
      const next = await one(1, accepted('next'));
      expect(next).toBeGreaterThan(ids[5]!);
    });

    it('gives every one of many appends at once its own id', async () => {
      const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => one(i % 3, accepted(`u${i}`))));
      expect(new Set(ids).size).toBe(20);
      expect((await events.after(0, 'all', 100)).map((e) => e.id)).toEqual([...ids].sort((x, y) => x - y));
    });

    it('keeps a batch in the order given, with increasing ids, as one write', async () => {
      const before = await one(7, accepted('before'));
      const ids = await events.append([{ ownerUserId: 1, event: accepted('x') }, { ownerUserId: 2, event: accepted('y') }, { ownerUserId: 1, event: accepted('z') }], now());
      expect(ids).toHaveLength(3);
      expect([before, ...ids]).toEqual([before, ...ids].sort((a, b) => a - b));
      expect((await events.after(before, 'all', 10)).map((e) => [e.id, e.ownerUserId, (e.event as { uploadId: string }).uploadId])).toEqual([[ids[0], 1, 'x'], [ids[1], 2, 'y'], [ids[2], 1, 'z']]);
      expect(await events.append([], now())).toEqual([]);
    });
  });
}
