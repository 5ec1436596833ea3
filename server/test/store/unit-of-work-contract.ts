// The unit of work every RelayStore backend must honour (store/relay-store.ts), written against the
// interface only; each backend's test file runs it with its own factory.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RelayStore } from '../../src/store/relay-store.js';
import { deferred, testClock, type StoreFactory, type StoreUnderTest } from './store-under-test.js';

export function describeUnitOfWorkContract(backend: string, open: StoreFactory): void {
  describe(`${backend}: unit of work`, () => {
    let subject: StoreUnderTest;
    let store: RelayStore;
    beforeEach(async () => {
      subject = await open(testClock().now);
      store = subject.store;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('commits every call of the work together and answers what the work returned', async () => {
      const id = await store.withTransaction(async (tx) => {
        const user = await tx.users.create('alice', 'radiographer', 'hash');
        await tx.audit.record({ action: 'user-add', outcome: 'success', target: 'alice' });
        return user.id;
      });
      expect((await store.users.findById(id))?.username).toBe('alice');
      expect((await store.audit.recent()).map((row) => row.target)).toEqual(['alice']);
    });

    it('answers ping while open, and refuses it once closed (the readiness check)', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
      await store.close();
      await expect(store.ping()).rejects.toThrow();
    });

    it('rolls every call back when the work throws, and rethrows its error', async () => {
      const failure = new Error('the work failed');
      await expect(store.withTransaction(async (tx) => {
        await tx.users.create('alice', 'radiographer', 'hash');
        await tx.audit.record({ action: 'user-add', outcome: 'success', target: 'alice' });
        throw failure;
      })).rejects.toBe(failure);
      expect(await store.users.findByUsername('alice')).toBeUndefined();
      expect(await store.audit.recent()).toEqual([]);
    });

    it('does not roll back a call made outside the transaction while it was open', async () => {
      const open = deferred();
      const started = deferred();
      const transaction = store.withTransaction(async (tx) => {
        await tx.users.create('inside', 'radiographer', 'hash');
        started.resolve();
        await open.promise;
        throw new Error('rolled back');
      });
      await started.promise;
      const outside = store.audit.record({ action: 'login', outcome: 'success', target: 'outside' });
      open.resolve();
      await expect(transaction).rejects.toThrow('rolled back');
      await outside;
      expect(await store.users.findByUsername('inside')).toBeUndefined();
      expect((await store.audit.recent()).map((row) => row.target)).toEqual(['outside']);
    });

    it('serializes transactions: a read-modify-write in each loses no update', async () => {
      const user = await store.users.create('alice', 'radiographer', 'h');
      await Promise.all(['a', 'b', 'c', 'd'].map((suffix) => store.withTransaction(async (tx) => {
        const current = (await tx.users.findById(user.id))!.passwordHash;
        await new Promise((resolve) => setImmediate(resolve)); // let the others run if they could
        await tx.users.setPasswordHash(user.id, current + suffix);
      })));
      const final = (await store.users.findById(user.id))!.passwordHash;
      expect(final).toHaveLength(5);
      expect([...final.slice(1)].sort().join('')).toBe('abcd');
    });

    it('refuses the store itself, or a nested transaction, from inside the work rather than waiting forever', async () => {
      await expect(store.withTransaction(async () => store.users.list())).rejects.toThrow();
      await expect(store.withTransaction(async () => store.withTransaction(async () => 1))).rejects.toThrow();
      // The store still works afterwards.
      expect(await store.withTransaction(async (tx) => (await tx.users.list()).length)).toBe(0);
    });

    it('refuses the stores of a transaction once it has ended', async () => {
      const escaped = await store.withTransaction(async (tx) => tx);
      await expect(escaped.users.list()).rejects.toThrow();
    });

    it('makes what was committed durable at flush()', async () => {
      await store.users.create('alice', 'radiographer', 'hash');
      await expect(store.flush()).resolves.toBeUndefined();
    });
  });
}
