// The DeliveriesStore contract (store/deliveries-store.ts), written against the interfaces only:
// every backend runs it with its own factory (sqlite-relay-store.test.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceLevel } from '../../src/protocol/upload-protocol.js';
import type { DeliveriesStore, DeliveryItemStatus, DeliveryLease } from '../../src/store/deliveries-store.js';
import type { RelayStore } from '../../src/store/relay-store.js';
import type { UploadsStore } from '../../src/store/uploads-store.js';
import { testClock, type StoreFactory, type StoreUnderTest } from './store-under-test.js';
import { manifest } from './uploads-store-contract.js';

const SECOND_MS = 1000;
const STUDY = '1.2.826.0.1.3680043.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const FAR_FUTURE = '2999-01-01T00:00:00.000Z';

export function describeDeliveriesStoreContract(backend: string, open: StoreFactory): void {
  describe(`${backend}: deliveries store`, () => {
    let clock: ReturnType<typeof testClock>;
    let subject: StoreUnderTest;
    let store: RelayStore;
    let uploads: UploadsStore;
    let deliveries: DeliveriesStore;
    let userId: number;
    const now = () => clock.now().toISOString();
    const after = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();

    /** An upload receiving, its instances verified (what may be queued), created now. */
    const seed = async (id: string, options: { serviceLevel?: ServiceLevel; instances?: number } = {}) => {
      const instances = manifest(Array.from({ length: options.instances ?? 3 }, (_, i) => 100 + i));
      await uploads.insert({
        id, userId, studyInstanceUid: STUDY, serviceLevel: options.serviceLevel ?? 'ROUTINE', manifestHash: `m-${id}`, chunkBytes: 64,
        totalBytes: instances.reduce((sum, i) => sum + i.size, 0), expiresAt: after(3600 * SECOND_MS), instances,
      }, now());
      for (let index = 0; index < instances.length; index++) {
        await uploads.setInstanceState(id, index, 'verified', { transferSyntaxUid: EXPLICIT_LE });
      }
      return instances;
    };
    /** The delivery of an upload to a destination, found while one of its items is queued. */
    const deliveryId = async (uploadId: string, destination = 'pacs') => {
      const item = (await deliveries.due(destination, FAR_FUTURE, 1000)).find((i) => i.uploadId === uploadId);
      if (!item) throw new Error(`no queued item of ${uploadId} to ${destination}`);
      return item.deliveryId;
    };
    const dueKeys = async (destination = 'pacs', at = now(), limit = 100) =>
      (await deliveries.due(destination, at, limit)).map((i) => `${i.uploadId}/${i.index}`);
    const item = async (uploadId: string, index: number, destination = 'pacs') =>
      (await deliveries.itemsOf(uploadId)).find((i) => i.index === index && i.destination === destination);
    const fresh = (destination: string, index: number): DeliveryItemStatus =>
      ({ destination, index, state: 'queued', attempts: 0, lastError: null, failureCode: null, warning: null });

    beforeEach(async () => {
      clock = testClock();
      subject = await open(clock.now);
      store = subject.store;
      uploads = store.uploads;
      deliveries = store.deliveries;
      userId = (await store.users.create('alice', 'radiographer', 'hash')).id;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('queues an instance per destination, idempotently: an item already there stays as it is', async () => {
      await seed('u1');
      await deliveries.enqueue('u1', 0, ['pacs', 'viewer'], now());
      await deliveries.enqueue('u1', 1, ['pacs'], now());
      expect(await deliveries.itemsOf('u1')).toEqual([fresh('pacs', 0), fresh('pacs', 1), fresh('viewer', 0)]);
      const id = await deliveryId('u1');
      await deliveries.setState([{ deliveryId: id, index: 0 }], 'sending', now());
      await deliveries.giveUp(id, 1, 'down', now());
      clock.advance(SECOND_MS);
      await deliveries.enqueue('u1', 0, ['pacs', 'viewer'], now());
      await deliveries.enqueue('u1', 1, ['pacs'], now());
      await deliveries.enqueue('u1', 2, [], now());
      // Relays racing to queue the same instance make one item, and neither fails.
      await Promise.all([deliveries.enqueue('u1', 2, ['pacs'], now()), deliveries.enqueue('u1', 2, ['pacs'], now())]);
      expect((await deliveries.itemsOf('u1')).map((i) => [i.destination, i.index, i.state, i.attempts])).toEqual([
        ['pacs', 0, 'sending', 0], ['pacs', 1, 'failed', 1], ['pacs', 2, 'queued', 0], ['viewer', 0, 'queued', 0],
      ]);
      expect(await deliveryId('u1', 'viewer')).not.toBe(id);
    });

    it('answers due items STAT first, then oldest upload first, then in instance order, up to the limit', async () => {
      await seed('z-oldest');
      clock.advance(SECOND_MS);
      await seed('a-newer');
      clock.advance(SECOND_MS);
      await seed('m-stat', { serviceLevel: 'STAT' });
      clock.advance(SECOND_MS);
      // Queued in no particular order: the order comes from the upload, not the queueing.
      for (const [id, index] of [['a-newer', 1], ['m-stat', 2], ['z-oldest', 0], ['a-newer', 0], ['m-stat', 0]] as const) {
        await deliveries.enqueue(id, index, ['pacs'], now());
      }
      await deliveries.enqueue('z-oldest', 1, ['archive'], now());
      expect(await dueKeys()).toEqual(['m-stat/0', 'm-stat/2', 'z-oldest/0', 'a-newer/0', 'a-newer/1']);
      expect(await dueKeys('pacs', now(), 2)).toEqual(['m-stat/0', 'm-stat/2']);
      expect(await dueKeys('archive')).toEqual(['z-oldest/1']);
      expect(await dueKeys('nowhere')).toEqual([]);
      // Made STAT since, it goes ahead of the routine one, and of the newer STAT one.
      await uploads.upgrade('a-newer', { stat: true }, now());
      expect(await dueKeys()).toEqual(['a-newer/0', 'a-newer/1', 'm-stat/0', 'm-stat/2', 'z-oldest/0']);
    });

    it('leaves out items not due yet, not queued, or of uploads cancelled or expired', async () => {
      await seed('live', { instances: 5 });
      for (let index = 0; index < 5; index++) await deliveries.enqueue('live', index, ['pacs'], now());
      const id = await deliveryId('live');
      const retryAt = after(10 * SECOND_MS);
      await deliveries.retryLater(id, 1, retryAt, 'busy', now());
      await deliveries.setState([{ deliveryId: id, index: 2 }], 'sending', now());
      await deliveries.setState([{ deliveryId: id, index: 3 }], 'delivered', now());
      await deliveries.giveUp(id, 4, 'down', now());
      for (const state of ['cancelled', 'expired'] as const) {
        await seed(state);
        await deliveries.enqueue(state, 0, ['pacs'], now());
        await uploads.setUploadState(state, state, now(), ['receiving']);
      }
      expect(await dueKeys()).toEqual(['live/0']);
      const later = await deliveries.due('pacs', retryAt, 100);
      expect(later.map((i) => `${i.uploadId}/${i.index}`)).toEqual(['live/0', 'live/1']);
      expect(later[1]).toMatchObject({ attempts: 1, dueAt: retryAt });
    });

    it('carries what sending needs: the owner, the upload\'s state and the instance\'s transfer syntax', async () => {
      const instances = await seed('u1', { serviceLevel: 'STAT' });
      const queuedAt = now();
      await deliveries.enqueue('u1', 1, ['pacs'], queuedAt);
      clock.advance(SECOND_MS);
      const [due] = await deliveries.due('pacs', now(), 10);
      expect(due).toEqual({
        deliveryId: expect.any(Number) as number, destination: 'pacs', uploadId: 'u1', userId, index: 1, attempts: 0, serviceLevel: 'STAT',
        studyInstanceUid: STUDY, sopInstanceUid: instances[1]!.sopInstanceUid, sopClassUid: instances[1]!.sopClassUid,
        transferSyntaxUid: EXPLICIT_LE, size: instances[1]!.size, sha256: instances[1]!.sha256, uploadState: 'receiving', dueAt: queuedAt,
      });
      await uploads.setUploadState('u1', 'accepted', now(), ['receiving']);
      expect((await deliveries.due('pacs', now(), 10))[0]?.uploadState).toBe('accepted');
    });

    it('answers when the next queued item of a live upload becomes due', async () => {
      expect(await deliveries.nextDueAt('pacs')).toBeUndefined();
      await seed('u1');
      const t0 = now();
      await deliveries.enqueue('u1', 0, ['pacs'], t0);
      expect(await deliveries.nextDueAt('pacs')).toBe(t0);
      const id = await deliveryId('u1');
      await deliveries.retryLater(id, 0, after(5 * SECOND_MS), 'busy', now());
      clock.advance(SECOND_MS);
      await deliveries.enqueue('u1', 1, ['pacs', 'archive'], now());
      expect(await deliveries.nextDueAt('pacs')).toBe(now());
      await deliveries.setState([{ deliveryId: id, index: 1 }], 'sending', now());
      expect(await deliveries.nextDueAt('pacs')).toBe(after(4 * SECOND_MS));
      expect(await deliveries.nextDueAt('archive')).toBe(now());
      await uploads.setUploadState('u1', 'cancelled', now(), ['receiving']);
      expect(await deliveries.nextDueAt('pacs')).toBeUndefined();
    });

    it('sets an item\'s state, changing its error, code and warning only where given', async () => {
      await seed('u1');
      await deliveries.enqueue('u1', 0, ['pacs'], now());
      const id = await deliveryId('u1');
      await deliveries.setState([{ deliveryId: id, index: 0 }], 'failed', now(), { lastError: 'refused', failureCode: 'HTTP_400', warning: 'coerced' });
      const failed = { destination: 'pacs', index: 0, state: 'failed', attempts: 0, lastError: 'refused', failureCode: 'HTTP_400', warning: 'coerced' };
      expect(await item('u1', 0)).toEqual(failed);
      await deliveries.setState([{ deliveryId: id, index: 0 }], 'sending', now());
      expect(await item('u1', 0)).toEqual({ ...failed, state: 'sending' });
      await deliveries.setState([{ deliveryId: id, index: 0 }], 'delivered', now(), { lastError: null, failureCode: null, warning: null });
      expect(await item('u1', 0)).toEqual({ ...failed, state: 'delivered' });
      await deliveries.setState([{ deliveryId: id, index: 0 }], 'confirmed', now(), { warning: 'late' });
      expect(await item('u1', 0)).toEqual({ ...failed, state: 'confirmed', warning: 'late' });
    });

    it('puts an item back for a later attempt, one attempt more, then gives up for good', async () => {
      await seed('u1');
      await deliveries.enqueue('u1', 0, ['pacs'], now());
      const id = await deliveryId('u1');
      await deliveries.setState([{ deliveryId: id, index: 0 }], 'sending', now());
      const retryAt = after(10 * SECOND_MS);
      await deliveries.retryLater(id, 0, retryAt, 'timeout', now());
      expect(await item('u1', 0)).toMatchObject({ state: 'queued', attempts: 1, lastError: 'timeout' });
      expect(await dueKeys()).toEqual([]);
      expect(await deliveries.nextDueAt('pacs')).toBe(retryAt);
      clock.advance(10 * SECOND_MS);
      expect(await dueKeys()).toEqual(['u1/0']);
      await deliveries.retryLater(id, 0, after(SECOND_MS), 'timeout again', now());
      expect(await item('u1', 0)).toMatchObject({ state: 'queued', attempts: 2, lastError: 'timeout again' });
      await deliveries.setState([{ deliveryId: id, index: 0 }], 'sending', now());
      await deliveries.giveUp(id, 0, 'still down', now());
      expect(await item('u1', 0)).toEqual({
        destination: 'pacs', index: 0, state: 'failed', attempts: 3, lastError: 'still down', failureCode: 'ATTEMPTS_EXHAUSTED', warning: null,
      });
      expect(await deliveries.due('pacs', FAR_FUTURE, 10)).toEqual([]);
    });

    it('requeues an owner\'s items left sending, due now, and no other relay\'s', async () => {
      await seed('u1', { instances: 5 });
      for (let index = 0; index < 5; index++) await deliveries.enqueue('u1', index, ['pacs'], now());
      const id = await deliveryId('u1');
      const mine = { owner: 'relay-a', until: after(60 * SECOND_MS) };
      expect(await claimOne(deliveries, id, 0, now(), mine)).toBe(true);
      expect(await claimOne(deliveries, id, 1, now(), mine)).toBe(true);
      expect(await claimOne(deliveries, id, 4, now(), { owner: 'relay-b', until: after(60 * SECOND_MS) })).toBe(true);
      await deliveries.setState([{ deliveryId: id, index: 2 }], 'delivered', now());
      await deliveries.retryLater(id, 3, after(60 * SECOND_MS), 'busy', now());
      clock.advance(SECOND_MS);
      expect(await deliveries.requeueOwnedBy('relay-a', now())).toBe(2);
      expect((await deliveries.itemsOf('u1')).map((i) => i.state)).toEqual(['queued', 'queued', 'delivered', 'queued', 'sending']);
      const due = await deliveries.due('pacs', now(), 10);
      expect(due.map((i) => [i.index, i.dueAt])).toEqual([[0, now()], [1, now()]]);
      expect(await deliveries.requeueOwnedBy('relay-a', now())).toBe(0);
    });

    it('requeues items whose lease lapsed (or that have none) whoever owned them, and keeps renewed ones', async () => {
      await seed('u1', { instances: 4 });
      for (let index = 0; index < 4; index++) await deliveries.enqueue('u1', index, ['pacs'], now());
      const id = await deliveryId('u1');
      const a = (seconds: number) => ({ owner: 'relay-a', until: after(seconds * SECOND_MS) });
      expect(await claimOne(deliveries, id, 0, now(), a(10))).toBe(true);
      expect(await claimOne(deliveries, id, 1, now(), a(10))).toBe(true);
      expect(await claimOne(deliveries, id, 2, now(), { owner: 'relay-b', until: after(10 * SECOND_MS) })).toBe(true);
      // An item set 'sending' without a claim (an older relay's) has no lease: lapsed at once.
      await deliveries.setState([{ deliveryId: id, index: 3 }], 'sending', now());
      expect(await deliveries.requeueLapsed(now())).toBe(1);
      clock.advance(5 * SECOND_MS);
      // relay-a's heartbeat renews what it still sends; another owner's item is not its to renew.
      expect(await deliveries.renewLeases([{ deliveryId: id, index: 1 }, { deliveryId: id, index: 2 }, { deliveryId: id, index: 3 }], a(10))).toBe(1);
      clock.advance(6 * SECOND_MS);
      expect(await deliveries.requeueLapsed(now())).toBe(2); // 0 (relay-a stopped renewing it) and 2 (relay-b died)
      expect((await deliveries.itemsOf('u1')).map((i) => i.state)).toEqual(['queued', 'sending', 'queued', 'queued']);
      expect((await deliveries.due('pacs', now(), 10)).map((i) => [i.index, i.dueAt]).filter(([index]) => index !== 3)).toEqual([[0, now()], [2, now()]]);
      clock.advance(10 * SECOND_MS);
      expect(await deliveries.requeueLapsed(now())).toBe(1);
      // A requeued item is no longer the old owner's: its start finds nothing to requeue.
      expect(await deliveries.requeueOwnedBy('relay-b', now())).toBe(0);
    });

    it('queues an upload\'s failed items again with their attempts reset and their code cleared', async () => {
      await seed('u1');
      await seed('u2');
      for (let index = 0; index < 3; index++) await deliveries.enqueue('u1', index, ['pacs'], now());
      await deliveries.enqueue('u2', 0, ['pacs'], now());
      const id = await deliveryId('u1');
      const other = await deliveryId('u2');
      await deliveries.giveUp(id, 0, 'down', now());
      await deliveries.retryLater(id, 1, now(), 'busy', now());
      await deliveries.setState([{ deliveryId: id, index: 1 }], 'failed', now(), { lastError: 'refused', failureCode: 'HTTP_400' });
      await deliveries.setState([{ deliveryId: id, index: 2 }], 'delivered', now());
      await deliveries.giveUp(other, 0, 'down', now());
      clock.advance(SECOND_MS);
      expect(await deliveries.retryFailed('u1', now())).toBe(2);
      expect((await deliveries.itemsOf('u1')).map(({ state, attempts, failureCode }) => ({ state, attempts, failureCode }))).toEqual([
        { state: 'queued', attempts: 0, failureCode: null }, { state: 'queued', attempts: 0, failureCode: null },
        { state: 'delivered', attempts: 0, failureCode: null },
      ]);
      expect((await deliveries.due('pacs', now(), 10)).map((i) => [i.uploadId, i.index, i.dueAt])).toEqual([['u1', 0, now()], ['u1', 1, now()]]);
      expect(await item('u2', 0)).toMatchObject({ state: 'failed', failureCode: 'ATTEMPTS_EXHAUSTED' });
      expect(await deliveries.retryFailed('u1', now())).toBe(0);
    });

    it('lists an upload\'s items destination by destination (in the order first queued), then by instance', async () => {
      await seed('u1');
      await seed('u2');
      // "pacs" is queued before "archive": the order is the queueing's, not the names'.
      await deliveries.enqueue('u1', 2, ['pacs', 'archive'], now());
      await deliveries.enqueue('u1', 0, ['pacs', 'archive'], now());
      await deliveries.enqueue('u2', 0, ['pacs'], now());
      await deliveries.enqueue('u1', 1, ['archive'], now());
      expect((await deliveries.itemsOf('u1')).map((i) => `${i.destination}/${i.index}`)).toEqual(['pacs/0', 'pacs/2', 'archive/0', 'archive/1', 'archive/2']);
      expect(await deliveries.itemsOf('nope')).toEqual([]);
    });

    it('records a sender\'s outcome only while the item is still sending under its lease', async () => {
      await seed('u1', { instances: 4 });
      for (let index = 0; index < 4; index++) await deliveries.enqueue('u1', index, ['pacs'], now());
      const id = await deliveryId('u1');
      const lease = (owner: string) => ({ owner, until: after(60 * SECOND_MS) });
      for (let index = 0; index < 4; index++) expect(await claimOne(deliveries, id, index, now(), lease('relay-a'))).toBe(true);
      // relay-a's lease lapsed (it could not reach the database); relay-b took items 0 to 2 over.
      clock.advance(61 * SECOND_MS);
      expect(await deliveries.requeueLapsed(now())).toBe(4);
      for (let index = 0; index < 3; index++) expect(await claimOne(deliveries, id, index, now(), lease('relay-b'))).toBe(true);
      // relay-a comes back and records what the PACS answered it: none of it lands on relay-b's items.
      await deliveries.setState([{ deliveryId: id, index: 0 }], 'delivered', now(), { sender: 'relay-a' });
      await deliveries.retryLater(id, 1, after(SECOND_MS), 'busy', now(), 'relay-a');
      await deliveries.giveUp(id, 2, 'down', now(), 'relay-a');
      await deliveries.setState([{ deliveryId: id, index: 3 }], 'delivered', now(), { sender: 'relay-a' }); // queued again, not relay-a's either
      expect((await deliveries.itemsOf('u1')).map((i) => [i.state, i.attempts])).toEqual([['sending', 0], ['sending', 0], ['sending', 0], ['queued', 0]]);
      // relay-b's own outcomes land.
      await deliveries.setState([{ deliveryId: id, index: 0 }], 'delivered', now(), { sender: 'relay-b' });
      await deliveries.retryLater(id, 1, after(SECOND_MS), 'busy', now(), 'relay-b');
      await deliveries.giveUp(id, 2, 'down', now(), 'relay-b');
      expect((await deliveries.itemsOf('u1')).map((i) => [i.state, i.attempts])).toEqual([['delivered', 0], ['queued', 1], ['failed', 1], ['queued', 0]]);
    });

    it('lets exactly one of two workers claim a queued item, and none claim an item not queued', async () => {
      await seed('u1');
      await deliveries.enqueue('u1', 0, ['pacs'], now());
      await deliveries.enqueue('u1', 1, ['pacs'], now());
      const id = await deliveryId('u1');
      // Two workers (of one relay or two) selected the same due item: both try at once.
      const lease = { owner: 'relay-a', until: after(60 * SECOND_MS) };
      const claims = await Promise.all([claimOne(deliveries, id, 0, now(), lease), claimOne(deliveries, id, 0, now(), { ...lease, owner: 'relay-b' })]);
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect((await item('u1', 0))?.state).toBe('sending');
      expect(await dueKeys()).toEqual(['u1/1']);
      await deliveries.setState([{ deliveryId: id, index: 1 }], 'delivered', now());
      expect(await claimOne(deliveries, id, 1, now(), lease)).toBe(false);
      expect(await claimOne(deliveries, id, 9, now(), lease)).toBe(false); // no such item
      // The claim carries its lease: not lapsed before it ends, lapsed after.
      expect(await deliveries.requeueLapsed(after(59 * SECOND_MS))).toBe(0);
      expect(await deliveries.requeueLapsed(after(61 * SECOND_MS))).toBe(1);
    });

    it('splits one batch two workers claim at once between them, each item to exactly one', async () => {
      await seed('u1', { instances: 40 });
      for (let index = 0; index < 40; index++) await deliveries.enqueue('u1', index, ['pacs'], now());
      const id = await deliveryId('u1');
      const everything = Array.from({ length: 40 }, (_, index) => ({ deliveryId: id, index }));
      const lease = (owner: string) => ({ owner, until: after(60 * SECOND_MS) });
      // Both selected the same due items (selecting claims nothing): one batch each, at once.
      const [a, b] = await Promise.all([deliveries.claimBatch(everything, now(), lease('relay-a')), deliveries.claimBatch([...everything].reverse(), now(), lease('relay-b'))]);
      const claimed = [...a!, ...b!].map((key) => key.index).sort((x, y) => x - y);
      expect(claimed).toEqual(everything.map((key) => key.index));
      expect(await deliveries.claimBatch(everything, now(), lease('relay-c'))).toEqual([]);
      expect(await deliveries.claimBatch([], now(), lease('relay-c'))).toEqual([]);
    });

    it('leaves out of the queue depth the items of uploads cancelled or expired (they are never sent)', async () => {
      await seed('gone');
      await seed('kept');
      await deliveries.enqueue('gone', 0, ['pacs'], now());
      await deliveries.enqueue('kept', 0, ['pacs'], now());
      expect(await deliveries.queueDepth('pacs')).toBe(2);
      expect(await deliveries.oldestQueuedAt('pacs')).toBe(now());
      expect(await deliveries.oldestQueuedAt('elsewhere')).toBeUndefined();
      expect(await uploads.setUploadState('gone', 'cancelled', now(), ['receiving'])).toBe(true);
      expect(await deliveries.queueDepth('pacs')).toBe(1);
      expect(await uploads.setUploadState('kept', 'expired', now(), ['receiving'])).toBe(true);
      expect(await deliveries.queueDepth('pacs')).toBe(0);
      expect(await deliveries.oldestQueuedAt('pacs')).toBeUndefined();
    });

    it('counts a destination\'s items queued or sending, and knows when none of an upload\'s is left', async () => {
      await seed('u1', { instances: 5 });
      expect(await deliveries.allFinal('u1')).toBe(true);
      for (let index = 0; index < 5; index++) await deliveries.enqueue('u1', index, ['pacs'], now());
      await deliveries.enqueue('u1', 0, ['archive'], now());
      const id = await deliveryId('u1');
      const archive = await deliveryId('u1', 'archive');
      await deliveries.setState([{ deliveryId: id, index: 1 }], 'sending', now());
      await deliveries.setState([{ deliveryId: id, index: 2 }], 'delivered', now());
      await deliveries.giveUp(id, 3, 'down', now());
      await deliveries.setState([{ deliveryId: id, index: 4 }], 'confirmed', now());
      expect(await deliveries.queueDepth('pacs')).toBe(2);
      expect(await deliveries.queueDepth('archive')).toBe(1);
      expect(await deliveries.queueDepth('nowhere')).toBe(0);
      expect(await deliveries.allFinal('u1')).toBe(false);
      await deliveries.setState([{ deliveryId: id, index: 0 }], 'delivered', now());
      await deliveries.setState([{ deliveryId: archive, index: 0 }], 'confirmed', now());
      expect(await deliveries.allFinal('u1')).toBe(false); // index 1 still sending
      await deliveries.setState([{ deliveryId: id, index: 1 }], 'failed', now(), { failureCode: 'REFUSED' });
      expect(await deliveries.allFinal('u1')).toBe(true);
      expect(await deliveries.queueDepth('pacs')).toBe(0);
    });

    it('sets the state of several items in one call, each as setState of one would, the sender\'s guard item by item', async () => {
      await seed('u1', { instances: 4 });
      for (let index = 0; index < 4; index++) await deliveries.enqueue('u1', index, ['pacs'], now());
      const id = await deliveryId('u1');
      const keys = [0, 1, 2, 3].map((index) => ({ deliveryId: id, index }));
      expect(await deliveries.claimBatch(keys.slice(0, 3), now(), { owner: 'relay-a', until: after(60 * SECOND_MS) })).toHaveLength(3);
      await deliveries.setState(keys, 'delivered', now(), { warning: 'coerced', sender: 'relay-a' });
      expect((await deliveries.itemsOf('u1')).map((i) => [i.state, i.warning])).toEqual([['delivered', 'coerced'], ['delivered', 'coerced'], ['delivered', 'coerced'], ['queued', null]]);
      await deliveries.setState([], 'failed', now());
      await deliveries.setState(keys.slice(2), 'failed', now(), { lastError: 'refused', failureCode: 'REFUSED' });
      expect((await deliveries.itemsOf('u1')).map((i) => [i.state, i.failureCode])).toEqual([['delivered', null], ['delivered', null], ['failed', 'REFUSED'], ['failed', 'REFUSED']]);
    });

    it('knows an instance delivered everywhere only when every item of it is delivered or confirmed', async () => {
      const instances = await seed('u1');
      expect((await deliveries.deliveredEverywhere([{ uploadId: 'u1', index: 0 }])).has('u1/0')).toBe(false); // no item at all
      await deliveries.enqueue('u1', 0, ['pacs', 'archive'], now());
      await deliveries.enqueue('u1', 1, ['pacs'], now());
      const pacs = await deliveryId('u1');
      const archive = await deliveryId('u1', 'archive');
      await deliveries.setState([{ deliveryId: pacs, index: 0 }], 'delivered', now());
      expect((await deliveries.deliveredEverywhere([{ uploadId: 'u1', index: 0 }])).has('u1/0')).toBe(false);
      await deliveries.setState([{ deliveryId: archive, index: 0 }], 'confirmed', now());
      expect((await deliveries.deliveredEverywhere([{ uploadId: 'u1', index: 0 }])).has('u1/0')).toBe(true);
      await deliveries.giveUp(pacs, 1, 'down', now());
      expect((await deliveries.deliveredEverywhere([{ uploadId: 'u1', index: 1 }])).has('u1/1')).toBe(false);
      // Asked of several at once: only those delivered everywhere.
      expect(await deliveries.deliveredEverywhere([{ uploadId: 'u1', index: 0 }, { uploadId: 'u1', index: 1 }, { uploadId: 'other', index: 0 }])).toEqual(new Set(['u1/0']));
      expect(await deliveries.deliveredEverywhere([])).toEqual(new Set());
      // Remembered beyond the upload: a later one of the same bytes need not send them (several at once, twice over: once).
      await deliveries.markDelivered([], now());
      await deliveries.markDelivered([instances[0]!, instances[0]!], now());
      expect(await uploads.alreadyDelivered(instances)).toEqual(new Set([instances[0]!.sopInstanceUid]));
    });

    it('knows whether deliveries of accepted uploads are about to free space: an item sending, or queued before soon', async () => {
      await seed('receiving');
      await seed('accepted');
      await deliveries.enqueue('receiving', 0, ['pacs'], now());
      const receiving = await deliveryId('receiving');
      await deliveries.setState([{ deliveryId: receiving, index: 0 }], 'sending', now()); // its data stays: more instances come
      await deliveries.enqueue('accepted', 0, ['pacs'], now());
      const accepted = await deliveryId('accepted');
      await uploads.setUploadState('accepted', 'accepted', now(), ['receiving']);
      const retryAt = after(10 * 60 * SECOND_MS);
      await deliveries.retryLater(accepted, 0, retryAt, 'busy', now());
      expect(await deliveries.deliveriesFreeingSpace(after(5 * 60 * SECOND_MS))).toBe(false);
      expect(await deliveries.deliveriesFreeingSpace(retryAt)).toBe(true);
      await deliveries.setState([{ deliveryId: accepted, index: 0 }], 'sending', now());
      expect(await deliveries.deliveriesFreeingSpace(now())).toBe(true);
      await deliveries.setState([{ deliveryId: accepted, index: 0 }], 'delivered', now());
      expect(await deliveries.deliveriesFreeingSpace(FAR_FUTURE)).toBe(false);
    });

    it('counts the instances that still need the data but have no delivery item', async () => {
      await seed('u1', { instances: 6 });
      await uploads.setInstanceState('u1', 2, 'received');
      await uploads.setInstanceState('u1', 3, 'rejected', { rejectionCode: 'MALFORMED', rejectionReason: 'no' });
      await uploads.setInstanceState('u1', 4, 'receiving');
      await uploads.setInstanceState('u1', 5, 'already-delivered');
      await deliveries.enqueue('u1', 0, ['pacs'], now());
      expect(await deliveries.unqueuedInstances('u1')).toBe(2); // 1 verified, 2 received
      await deliveries.enqueue('u1', 1, ['pacs'], now());
      expect(await deliveries.unqueuedInstances('u1')).toBe(1);
      expect(await deliveries.unqueuedInstances('nope')).toBe(0);
    });

    it('commits queueing through a transaction together with the upload\'s writes, or rolls both back', async () => {
      await seed('u1');
      await expect(store.withTransaction(async (tx) => {
        await tx.uploads.setInstanceState('u1', 0, 'verified', { transferSyntaxUid: EXPLICIT_LE });
        await tx.deliveries.enqueue('u1', 0, ['pacs'], now());
        throw new Error('rolled back');
      })).rejects.toThrow('rolled back');
      expect(await deliveries.itemsOf('u1')).toEqual([]);
      await store.withTransaction(async (tx) => {
        await tx.deliveries.enqueue('u1', 0, ['pacs'], now());
      });
      expect(await deliveries.itemsOf('u1')).toEqual([fresh('pacs', 0)]);
    });
  });
}

/** Claims one item through claimBatch: whether it was this worker's to send. */
export async function claimOne(deliveries: DeliveriesStore, deliveryId: number, index: number, now: string, lease: DeliveryLease): Promise<boolean> {
  return (await deliveries.claimBatch([{ deliveryId, index }], now, lease)).length === 1;
}
