// The ReportsStore contract (store/reports-store.ts), written against the interface only.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewReport, ReportsStore } from '../../src/store/reports-store.js';
import { testClock, type StoreFactory, type StoreUnderTest } from './store-under-test.js';

export function describeReportsStoreContract(backend: string, open: StoreFactory): void {
  describe(`${backend}: reports`, () => {
    let clock = testClock();
    let subject: StoreUnderTest;
    let reports: ReportsStore;
    const now = () => clock.now().toISOString();
    const after = (seconds: number) => new Date(clock.now().getTime() + seconds * 1000).toISOString();
    const watch = (uploadId: string, destination = 'pacs', nextCheckAt = now()) =>
      reports.watch({ uploadId, destination, studyInstanceUid: `1.2.${uploadId.length}`, userId: 7, nextCheckAt, intervalSeconds: 60, until: after(86_400) });
    const report = (overrides: Partial<NewReport> = {}): NewReport => ({
      uploadId: 'u1', destination: 'pacs', userId: 7, studyInstanceUid: '1.2.2', seriesInstanceUid: '1.2.2.9', sopInstanceUid: '1.2.2.9.1',
      kind: 'sr', status: 'preliminary', title: 'CT Report', source: 'orthanc-changes', detectedAt: now(), content: Buffer.from([0, 1, 2, 255]), ...overrides,
    });
    beforeEach(async () => {
      clock = testClock();
      subject = await open(clock.now);
      reports = subject.store.reports;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('watches a delivered study once per destination, due soonest first, until rescheduled', async () => {
      await watch('u1', 'pacs', after(10));
      await watch('u2', 'pacs', now());
      await watch('u1', 'pacs', after(999)); // again: nothing changes
      await watch('u1', 'other');
      expect((await reports.dueWatches('pacs', now(), 10)).map((w) => w.uploadId)).toEqual(['u2']);
      clock.advance(10_000);
      const due = await reports.dueWatches('pacs', now(), 10);
      expect(due.map((w) => w.uploadId)).toEqual(['u2', 'u1']);
      expect(due[1]).toMatchObject({ destination: 'pacs', studyInstanceUid: '1.2.2', userId: 7, state: 'watching', intervalSeconds: 60, knownInstances: null });
      expect(await reports.dueWatches('pacs', now(), 1)).toHaveLength(1);
      await reports.updateWatch('u2', 'pacs', { state: 'watching', nextCheckAt: after(120), intervalSeconds: 120, knownInstances: 3 });
      await reports.updateWatch('u1', 'pacs', { state: 'done', nextCheckAt: after(60), intervalSeconds: 60, knownInstances: 4 });
      expect(await reports.dueWatches('pacs', now(), 10)).toEqual([]);
      expect((await reports.watching('pacs')).map((w) => [w.uploadId, w.intervalSeconds, w.knownInstances])).toEqual([['u2', 120, 3]]);
      expect((await reports.watching('other')).map((w) => w.uploadId)).toEqual(['u1']);
    });

    it('answers every watch of a study that has not expired, whatever its destination or state', async () => {
      await watch('u1', 'pacs');
      await watch('u1', 'other');
      await watch('u2', 'pacs'); // study 1.2.2 too (the UID is made from the id's length)
      await watch('u333', 'pacs');
      await reports.updateWatch('u1', 'other', { state: 'done', nextCheckAt: now(), intervalSeconds: 60, knownInstances: 1 });
      expect((await reports.watchesOfStudy('1.2.2')).map((w) => [w.uploadId, w.destination, w.state])).toEqual([
        ['u1', 'other', 'done'], ['u1', 'pacs', 'watching'], ['u2', 'pacs', 'watching'],
      ]);
      clock.advance(86_401_000);
      await reports.expireWatches(now());
      expect((await reports.watchesOfStudy('1.2.2')).map((w) => [w.uploadId, w.destination])).toEqual([['u1', 'other']]);
      expect(await reports.watchesOfStudy('9.9')).toEqual([]);
    });

    it('answers the watches of the uploads that kept an accession number', async () => {
      const user = await subject.store.users.create('accession-owner', 'radiographer', 'hash');
      for (const id of ['u1', 'u2', 'u3']) {
        await subject.store.uploads.insert({
          id, userId: user.id, studyInstanceUid: `1.2.${id.length}`, serviceLevel: 'ROUTINE', manifestHash: id, chunkBytes: 64, totalBytes: 10,
          expiresAt: after(3600), instances: [{ sopInstanceUid: `1.9.${id}`, sopClassUid: '1.2.840.10008.5.1.4.1.1.2', size: 10, sha256: 'a'.repeat(64), state: 'receiving' }],
        }, now());
      }
      await subject.store.uploads.setAccessionNumber('u1', 'ACC-1');
      await subject.store.uploads.setAccessionNumber('u1', 'ACC-OTHER'); // the first kept stays
      await subject.store.uploads.setAccessionNumber('u3', 'ACC-3');
      await watch('u1', 'pacs');
      await watch('u1', 'other');
      await watch('u2', 'pacs');
      expect((await subject.store.uploads.find('u1'))?.accessionNumber).toBe('ACC-1');
      expect((await subject.store.uploads.find('u2'))?.accessionNumber).toBeNull();
      expect((await reports.watchesOfAccession('ACC-1')).map((w) => [w.uploadId, w.destination])).toEqual([['u1', 'other'], ['u1', 'pacs']]);
      expect(await reports.watchesOfAccession('ACC-OTHER')).toEqual([]);
      expect(await reports.watchesOfAccession('ACC-3')).toEqual([]); // kept, but never delivered anywhere watched
    });

    it('expires watches past their end, and only those still watching', async () => {
      await watch('u1');
      await watch('u22');
      await reports.updateWatch('u22', 'pacs', { state: 'done', nextCheckAt: now(), intervalSeconds: 60, knownInstances: 1 });
      expect(await reports.expireWatches(now())).toBe(0);
      clock.advance(86_401_000);
      expect(await reports.expireWatches(now())).toBe(1);
      expect(await reports.watching('pacs')).toEqual([]);
    });

    it('records a report once per upload, destination and instance, with its content until dropped', async () => {
      const first = await reports.record(report());
      expect(first.created).toBe(true);
      expect(await reports.record(report({ status: 'final' }))).toEqual({ id: first.id, created: false });
      const other = await reports.record(report({ sopInstanceUid: '1.2.2.9.2', status: 'final', kind: 'pdf', title: null, content: null }));
      expect(other.created).toBe(true);
      expect(await reports.find(first.id)).toEqual({ ...report(), id: first.id, hasContent: true, content: undefined });
      expect((await reports.ofUpload('u1')).map((r) => [r.id, r.status, r.hasContent])).toEqual([[first.id, 'preliminary', true], [other.id, 'final', false]]);
      expect([...(await reports.content(first.id))!]).toEqual([0, 1, 2, 255]);
      expect(await reports.content(other.id)).toBeUndefined();
      expect(await reports.find(9999)).toBeUndefined();
      clock.advance(1000);
      expect(await reports.dropContentBefore(now())).toBe(1);
      expect(await reports.content(first.id)).toBeUndefined();
      expect((await reports.find(first.id))?.hasContent).toBe(false);
    });

    it('answers a user\'s reports newest first, after a moment if asked', async () => {
      const a = await reports.record(report());
      clock.advance(1000);
      const mark = now();
      clock.advance(1000);
      const b = await reports.record(report({ sopInstanceUid: '1.2.2.9.3', detectedAt: now() }));
      await reports.record(report({ uploadId: 'u9', userId: 8, sopInstanceUid: '1.2.2.9.4' }));
      expect((await reports.ofUser(7, undefined, 10)).map((r) => r.id)).toEqual([b.id, a.id]);
      expect((await reports.ofUser(7, mark, 10)).map((r) => r.id)).toEqual([b.id]);
      expect((await reports.ofUser(7, undefined, 1)).map((r) => r.id)).toEqual([b.id]);
      // Paging by id, oldest first: what a client catching up asks.
      expect((await reports.ofUserAfter(7, 0, 10)).map((r) => r.id)).toEqual([a.id, b.id]);
      expect((await reports.ofUserAfter(7, 0, 1)).map((r) => r.id)).toEqual([a.id]);
      expect((await reports.ofUserAfter(7, a.id, 10)).map((r) => r.id)).toEqual([b.id]);
      expect(await reports.ofUserAfter(7, b.id, 10)).toEqual([]);
    });

    it('knows the documents of a watched study already looked at: its reports, the instances that were none, and what the upload itself sent', async () => {
      const user = await subject.store.users.create('known-owner', 'radiographer', 'hash');
      await subject.store.uploads.insert({
        id: 'u1', userId: user.id, studyInstanceUid: '1.2.2', serviceLevel: 'ROUTINE', manifestHash: 'm', chunkBytes: 64, totalBytes: 10, expiresAt: after(3600),
        instances: [{ sopInstanceUid: '1.2.2.7.1', sopClassUid: '1.2.840.10008.5.1.4.1.1.104.1', size: 10, sha256: 'a'.repeat(64), state: 'receiving' }],
      }, now());
      await reports.record(report());
      await reports.rememberNotReport('pacs', '1.2.2', '1.2.2.8.1', now());
      await reports.rememberNotReport('pacs', '1.2.2', '1.2.2.8.1', now());
      await reports.rememberNotReport('pacs', '1.2.3', '1.2.3.8.1', now());
      await reports.rememberNotReport('other', '1.2.2', '1.2.2.8.2', now());
      // 1.2.2.7.1: an outside report the sender's CD carried, sent with the study.
      expect(await reports.knownDocuments({ uploadId: 'u1', destination: 'pacs', studyInstanceUid: '1.2.2' })).toEqual(new Set(['1.2.2.9.1', '1.2.2.8.1', '1.2.2.7.1']));
      // Another upload of the same study: its own reports are its own, what is no report is none for anyone.
      expect(await reports.knownDocuments({ uploadId: 'u2', destination: 'pacs', studyInstanceUid: '1.2.2' })).toEqual(new Set(['1.2.2.8.1']));
    });

    it('keeps a change feed\'s position per destination', async () => {
      expect(await reports.cursor('pacs')).toBeUndefined();
      await reports.setCursor('pacs', 41, now());
      await reports.setCursor('pacs', 42, now());
      await reports.setCursor('other', 7, now());
      expect(await reports.cursor('pacs')).toBe(42);
      expect(await reports.cursor('other')).toBe(7);
    });
  });
}
