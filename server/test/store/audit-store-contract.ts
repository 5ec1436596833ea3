// The AuditStore contract (store/audit-store.ts), written against the interface only.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditStore } from '../../src/store/audit-store.js';
import { testClock, type StoreFactory, type StoreUnderTest } from './store-under-test.js';

export function describeAuditStoreContract(backend: string, open: StoreFactory): void {
  describe(`${backend}: audit store`, () => {
    const clock = testClock();
    let subject: StoreUnderTest;
    let audit: AuditStore;
    beforeEach(async () => {
      subject = await open(clock.now);
      audit = subject.store.audit;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('records rows stamped with the clock, with absent fields as null, newest first in recent()', async () => {
      await audit.record({ action: 'login', outcome: 'success', actorUserId: 7, address: '192.0.2.1' });
      clock.advance(1000);
      await audit.record({ action: 'user-add', outcome: 'exists', target: 'bob', address: 'cli' });
      const rows = await audit.recent();
      expect(rows.map(({ id: _id, ...row }) => row)).toEqual([
        { at: clock.now().toISOString(), actor_user_id: null, action: 'user-add', target: 'bob', address: 'cli', outcome: 'exists' },
        { at: new Date(clock.now().getTime() - 1000).toISOString(), actor_user_id: 7, action: 'login', target: null, address: '192.0.2.1', outcome: 'success' },
      ]);
      expect(rows[0]!.id).toBeGreaterThan(rows[1]!.id);
      expect(await audit.recent(1)).toHaveLength(1);
    });

    it('exports in the order written from a moment on, inclusive, up to a limit', async () => {
      const start = clock.now().toISOString();
      for (const outcome of ['first', 'second', 'third']) {
        await audit.record({ action: 'logout', outcome });
        clock.advance(1000);
      }
      expect((await audit.since(undefined)).map((row) => row.outcome)).toEqual(['first', 'second', 'third']);
      expect((await audit.since(start)).map((row) => row.outcome)).toEqual(['first', 'second', 'third']);
      expect((await audit.since(new Date(Date.parse(start) + 1000).toISOString())).map((row) => row.outcome)).toEqual(['second', 'third']);
      expect((await audit.since(undefined, 2)).map((row) => row.outcome)).toEqual(['first', 'second']);
      expect(await audit.since(clock.now().toISOString())).toEqual([]);
    });

    it('records once per action, target and outcome, even when relays race to record the same', async () => {
      const entry = { action: 'delivery' as const, outcome: 'delivered 3', target: 'upload u1 study 1.2.3 to pacs', actorUserId: 4, address: null };
      const results = await Promise.all(Array.from({ length: 5 }, () => audit.recordOnce(entry)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await audit.recordOnce(entry)).toBe(false);
      // Another outcome for the same target is news: a retry that changed the result.
      expect(await audit.recordOnce({ ...entry, outcome: 'delivered 2, failed 1' })).toBe(true);
      expect((await audit.recent()).map((row) => row.outcome)).toEqual(['delivered 2, failed 1', 'delivered 3']);
    });
  });
}
