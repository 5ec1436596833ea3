// The SignalsStore contract (store/signals-store.ts), written against the interface only: a relay
// is not told its own signals. That other relays are told is a PostgreSQL matter (SQLite has one
// relay): server/test/store/postgres-relay-store.test.ts, with notifyUntilHeard.
import { setTimeout as sleep } from 'node:timers/promises';
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

    it('does not tell a relay its own signals', async () => {
      const heard: string[] = [];
      for (const topic of ['deliveries', 'events', 'keys'] as const) signals.listen(topic, (payload) => heard.push(payload));
      await sleep(500); // listening by now, where listening takes a connection
      for (let i = 0; i < 5; i++) for (const topic of ['deliveries', 'events', 'keys'] as const) await signals.notify(topic, `own ${i}`);
      await sleep(300);
      expect(heard).toEqual([]);
    });
  });
}
