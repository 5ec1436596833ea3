// The RelayEventBus contract (ops/relay-events.ts), written against the interface only: the
// in-process bus runs it, and so will a bus that crosses processes. Delivery may be asynchronous,
// so the suite waits for what must arrive, and proves what must not by a later event that did.
import { describe, expect, it, vi } from 'vitest';
import type { RelayEvent, RelayEventBus } from '../../src/ops/relay-events.js';

const accepted = (uploadId: string): RelayEvent => ({ type: 'accepted', uploadId });

/** A listener that keeps what it was given. */
function recorder() {
  const events: RelayEvent[] = [];
  return { events, listener: (event: RelayEvent) => void events.push(event), ids: () => events.map((e) => 'uploadId' in e ? e.uploadId : '') };
}

export function describeEventBusContract(name: string, make: () => RelayEventBus | Promise<RelayEventBus>): void {
  describe(`${name}: event bus`, () => {
    it('gives an owner\'s subscribers that owner\'s events only, and \'all\' subscribers every event', async () => {
      const bus = await make();
      const alice = recorder();
      const bob = recorder();
      const everyone = recorder();
      bus.subscribe(1, alice.listener);
      bus.subscribe(2, bob.listener);
      bus.subscribe('all', everyone.listener);
      const received: RelayEvent = { type: 'received', uploadId: 'a1', instance: 3 };
      bus.publish(1, received);
      bus.publish(2, accepted('b1'));
      bus.publish(1, accepted('a2'));
      await vi.waitFor(() => expect(everyone.ids()).toEqual(['a1', 'b1', 'a2']));
      await vi.waitFor(() => expect(alice.ids()).toEqual(['a1', 'a2']));
      await vi.waitFor(() => expect(bob.ids()).toEqual(['b1']));
      expect(alice.events[0]).toEqual(received); // the event itself, every field
    });

    it('stops delivering to a listener once it unsubscribed, and to it alone', async () => {
      const bus = await make();
      const leaving = recorder();
      const staying = recorder();
      const leavingAll = recorder();
      const unsubscribe = bus.subscribe(1, leaving.listener);
      bus.subscribe(1, staying.listener);
      const unsubscribeAll = bus.subscribe('all', leavingAll.listener);
      bus.publish(1, accepted('before'));
      await vi.waitFor(() => expect([leaving.ids(), leavingAll.ids()]).toEqual([['before'], ['before']]));
      unsubscribe();
      unsubscribeAll();
      bus.publish(1, accepted('after'));
      await vi.waitFor(() => expect(staying.ids()).toEqual(['before', 'after']));
      expect(leaving.ids()).toEqual(['before']);
      expect(leavingAll.ids()).toEqual(['before']);
    });

    it('delivers one publisher\'s events in the order published', async () => {
      const bus = await make();
      const owner = recorder();
      const everyone = recorder();
      bus.subscribe(7, owner.listener);
      bus.subscribe('all', everyone.listener);
      const ids = Array.from({ length: 50 }, (_, i) => `u${i}`);
      for (const id of ids) bus.publish(7, accepted(id));
      await vi.waitFor(() => expect(owner.ids()).toEqual(ids));
      await vi.waitFor(() => expect(everyone.ids()).toEqual(ids));
    });

    it('does not let a throwing listener stop the others, or throw from publish', async () => {
      const bus = await make();
      let calls = 0;
      bus.subscribe(1, () => {
        calls++;
        throw new Error('a broken stream');
      });
      bus.subscribe('all', () => {
        throw new Error('another broken stream');
      });
      const owner = recorder();
      const everyone = recorder();
      bus.subscribe(1, owner.listener);
      bus.subscribe('all', everyone.listener);
      expect(() => bus.publish(1, accepted('first'))).not.toThrow();
      expect(() => bus.publish(1, accepted('second'))).not.toThrow();
      await vi.waitFor(() => expect([owner.ids(), everyone.ids()]).toEqual([['first', 'second'], ['first', 'second']]));
      expect(calls).toBe(2); // it still gets the events that follow
    });
  });
}
