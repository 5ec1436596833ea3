// The SignalsStore contract (store/signals-store.ts), written against the interface only. A store
// may take a moment to start listening (PostgreSQL opens a session for LISTEN), so a test sends
// its signal until it is heard.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SignalsStore, SignalTopic } from '../../src/store/signals-store.js';
import type { StoreFactory, StoreUnderTest } from './store-under-test.js';

/** Sends the signal until `heard` holds it (a listener just added may not be listening yet). */
export async function notifyUntilHeard(signals: SignalsStore, topic: SignalTopic, payload: string, heard: string[]): Promise<void> {
  await vi.waitFor(async () => {
    await signals.notify(topic, payload);
    expect(heard).toContain(payload);
  }, { timeout: 10_000, interval: 100 });
}

export function describeSignalsStoreContract(backend: string, open: StoreFactory): void {
  describe(`${backend}: signals`, () => {
    let subject: StoreUnderTest;
    let signals: SignalsStore;
    beforeEach(async () => {
      subject = await open(() => new Date());
      signals = subject.store.signals;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('tells a listener of its topic, with the payload, and not of another topic', async () => {
      const deliveries: string[] = [];
      const events: string[] = [];
      signals.listen('deliveries', (payload) => deliveries.push(payload));
      signals.listen('events', (payload) => events.push(payload));
      await notifyUntilHeard(signals, 'deliveries', '["pacs"]', deliveries);
      expect(events).toEqual([]);
      await notifyUntilHeard(signals, 'events', '', events);
      expect(deliveries.every((payload) => payload === '["pacs"]')).toBe(true);
    });

    it('tells no listener that unsubscribed, and keeps telling the others', async () => {
      const kept: string[] = [];
      const gone: string[] = [];
      signals.listen('events', (payload) => kept.push(payload));
      const unsubscribe = signals.listen('events', (payload) => gone.push(payload));
      await notifyUntilHeard(signals, 'events', 'first', kept);
      unsubscribe();
      const before = gone.length;
      await notifyUntilHeard(signals, 'events', 'second', kept);
      expect(gone.slice(before)).toEqual([]);
    });

    it('tells the other listeners when one throws', async () => {
      const heard: string[] = [];
      signals.listen('deliveries', () => {
        throw new Error('a broken listener');
      });
      signals.listen('deliveries', (payload) => heard.push(payload));
      await notifyUntilHeard(signals, 'deliveries', 'x', heard);
    });
  });
}
