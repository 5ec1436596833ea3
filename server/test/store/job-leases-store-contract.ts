// The JobLeasesStore contract (store/job-leases-store.ts), written against the interface only.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobLeasesStore } from '../../src/store/job-leases-store.js';
import { testClock, type StoreFactory, type StoreUnderTest } from './store-under-test.js';

export function describeJobLeasesStoreContract(backend: string, open: StoreFactory): void {
  describe(`${backend}: job leases`, () => {
    let clock = testClock();
    let subject: StoreUnderTest;
    let leases: JobLeasesStore;
    const now = () => clock.now().toISOString();
    const after = (seconds: number) => new Date(clock.now().getTime() + seconds * 1000).toISOString();
    beforeEach(async () => {
      clock = testClock();
      subject = await open(clock.now);
      leases = subject.store.jobLeases;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('gives a free job to the first relay, renews it for that relay only, and hands it over once it lapsed', async () => {
      expect(await leases.acquire('sweep', 'relay-a', now(), after(30))).toBe(true);
      expect(await leases.acquire('sweep', 'relay-b', now(), after(30))).toBe(false);
      expect(await leases.acquire('other-job', 'relay-b', now(), after(30))).toBe(true);
      clock.advance(20_000);
      expect(await leases.acquire('sweep', 'relay-a', now(), after(30))).toBe(true); // renewed to +50 s
      clock.advance(20_000);
      expect(await leases.acquire('sweep', 'relay-b', now(), after(30))).toBe(false); // still relay-a's
      clock.advance(11_000);
      expect(await leases.acquire('sweep', 'relay-b', now(), after(30))).toBe(true); // relay-a stopped renewing
      expect(await leases.acquire('sweep', 'relay-a', now(), after(30))).toBe(false);
    });

    it('lets exactly one of relays racing for a free or lapsed job have it', async () => {
      const race = () => Promise.all(['a', 'b', 'c'].map((relay) => leases.acquire('sweep', relay, now(), after(30))));
      expect((await race()).filter(Boolean)).toHaveLength(1);
      clock.advance(31_000);
      expect((await race()).filter(Boolean)).toHaveLength(1);
    });

    it('frees a job its holder releases, and ignores a release by anyone else', async () => {
      expect(await leases.acquire('sweep', 'relay-a', now(), after(30))).toBe(true);
      await leases.release('sweep', 'relay-b');
      expect(await leases.acquire('sweep', 'relay-b', now(), after(30))).toBe(false);
      await leases.release('sweep', 'relay-a');
      expect(await leases.acquire('sweep', 'relay-b', now(), after(30))).toBe(true);
      await leases.release('never-leased', 'relay-a');
    });
  });
}
