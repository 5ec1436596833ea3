// The watch ledger alone: every transition of a file (pending, waiting, read, handed on, skipped,
// forgotten) and when a study settles, driven by the times passed in. No timers, no files.
import { describe, expect, it } from 'vitest';
import type { HeaderResult } from '../../../src/core/dicom/header-reader.js';
import type { InstanceHeader } from '../../../src/core/dicom/instance-header.js';
import { WatchLedger, type FileVersion, type PendingEntry } from '../../../src/core/watch/watch-ledger.js';

const TIMING = { stabilityMs: 100, studyQuietMs: 500, maxIncompleteWaitMs: 1_000 };
const WALL = 1_700_000_000_000;
const COMPLETE = { complete: true } as const;
const STUDY = '1.2.3.1';

const v = (size: number, mtimeMs = 1): FileVersion => ({ size, mtimeMs });

function parsed(studyInstanceUid: string, sopInstanceUid: string): HeaderResult {
  const header: InstanceHeader = {
    sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid, transferSyntaxUid: '1.2.840.10008.1.2.1', instanceNumber: 1, numberOfFrames: null,
    patient: { id: '', name: '', birthDate: '', sex: '' },
    study: { instanceUid: studyInstanceUid, date: '', time: '', description: '', accessionNumber: '' },
    series: { instanceUid: `${studyInstanceUid}.1`, number: 1, description: '', modality: 'CT' },
  };
  return { ok: true, header };
}

function pendingOf(ledger: WatchLedger, path: string): PendingEntry {
  const entry = ledger.get(path);
  if (entry?.state !== 'pending') throw new Error(`${path} is ${entry?.state ?? 'unknown'}, not pending`);
  return entry;
}

/** Notices a file at `at`, finds it stable stabilityMs later and reads it as an instance of `study`. */
function take(ledger: WatchLedger, path: string, sop: string, at: number, study = STUDY): void {
  ledger.notice(path, v(10), at, WALL);
  const entry = pendingOf(ledger, path);
  expect(ledger.step(path, entry, v(10), at + 100, WALL)).toBe('read');
  expect(ledger.read(path, entry, v(10), parsed(study, sop), COMPLETE, at + 100, WALL)).toBeUndefined();
}

describe('watch ledger: a file', () => {
  it('noticed, waits until its size and mtime held still for stabilityMs, then is to be read', () => {
    const ledger = new WatchLedger(TIMING);
    ledger.notice('/w/a', v(10), 0, WALL);
    const entry = pendingOf(ledger, '/w/a');
    expect(ledger.pending()).toEqual(['/w/a']);
    expect(ledger.lastFileSeenAt).toBe(WALL);
    expect(ledger.lastFileSeenPath).toBe('/w/a');
    expect(ledger.step('/w/a', entry, v(10), 99, WALL)).toBe('wait');
    expect(ledger.step('/w/a', entry, v(10), 100, WALL)).toBe('read');
  });

  it('found by a walk without a stat counts its first stat as a change; a growing file starts over but keeps its first-seen time', () => {
    const ledger = new WatchLedger(TIMING);
    ledger.notice('/w/a', undefined, 0, WALL);
    const first = pendingOf(ledger, '/w/a');
    expect(first.size).toBe(-1);
    expect(ledger.step('/w/a', first, v(10), 50, WALL)).toBe('changed');
    const second = pendingOf(ledger, '/w/a');
    expect(second).not.toBe(first);
    expect(ledger.holds('/w/a', first)).toBe(false);
    expect(second).toMatchObject({ size: 10, firstSeenAt: 0, changedAt: 50 });
    expect(ledger.step('/w/a', second, v(10), 149, WALL)).toBe('wait');
    expect(ledger.step('/w/a', second, v(10), 150, WALL)).toBe('read');
  });

  it('noticed again unchanged keeps its entry and only refreshes when it was seen', () => {
    const ledger = new WatchLedger(TIMING);
    ledger.notice('/w/a', v(10), 0, WALL);
    const entry = pendingOf(ledger, '/w/a');
    ledger.notice('/w/a', v(10), 70, WALL + 70);
    expect(ledger.get('/w/a')).toBe(entry);
    expect(entry).toMatchObject({ touchedAt: 70, changedAt: 0 });
    expect(ledger.lastFileSeenAt).toBe(WALL);
  });

  it('written to while being read is not taken: it waits again', () => {
    const ledger = new WatchLedger(TIMING);
    ledger.notice('/w/a', v(10), 0, WALL);
    const entry = pendingOf(ledger, '/w/a');
    expect(ledger.read('/w/a', entry, v(20), parsed(STUDY, '1'), COMPLETE, 200, WALL)).toBeUndefined();
    expect(pendingOf(ledger, '/w/a')).toMatchObject({ size: 20, firstSeenAt: 0, changedAt: 200 });
    expect(ledger.studies()).toEqual([]);
  });

  it('not DICOM is skipped (returned once, for the watcher to report), and read again only once it changes', () => {
    const ledger = new WatchLedger(TIMING);
    ledger.notice('/w/a', v(10), 0, WALL);
    const entry = pendingOf(ledger, '/w/a');
    const skip = ledger.read('/w/a', entry, v(10), { ok: false, code: 'FILE_NOT_DICOM', reason: 'not DICOM' }, COMPLETE, 100, WALL);
    expect(skip).toEqual({ code: 'FILE_NOT_DICOM', reason: 'not DICOM' });
    expect(ledger.get('/w/a')?.state).toBe('skipped');
    expect(ledger.pending()).toEqual([]);
    ledger.notice('/w/a', v(10), 200, WALL);
    expect(ledger.get('/w/a')?.state).toBe('skipped');
    ledger.notice('/w/a', v(11), 300, WALL);
    expect(pendingOf(ledger, '/w/a')).toMatchObject({ firstSeenAt: 300 });
  });

  it('still empty waits as cut short; cut short it is not read again until it changes, and is given up after maxIncompleteWaitMs', () => {
    const ledger = new WatchLedger(TIMING);
    ledger.notice('/w/a', v(0), 0, WALL);
    const entry = pendingOf(ledger, '/w/a');
    expect(ledger.step('/w/a', entry, v(0), 100, WALL)).toBe('wait');
    expect(entry.wait).toMatchObject({ kind: 'incomplete', code: 'FILE_TRUNCATED', reason: 'the file is still empty', since: 100 });
    expect(ledger.step('/w/a', entry, v(0), 1_099, WALL)).toBe('wait');
    expect(ledger.step('/w/a', entry, v(0), 1_100, WALL)).toEqual({ code: 'FILE_TRUNCATED', reason: 'the file is still empty; gave up waiting for it' });
    expect(ledger.get('/w/a')?.state).toBe('skipped');
  });

  it('unreadable (locked) is tried again stabilityMs after the last try, the wait counting from the first', () => {
    const ledger = new WatchLedger(TIMING);
    ledger.notice('/w/a', v(10), 0, WALL);
    const entry = pendingOf(ledger, '/w/a');
    ledger.read('/w/a', entry, v(10), { ok: false, code: 'FILE_UNREADABLE', reason: 'locked' }, COMPLETE, 100, WALL);
    expect(entry.wait).toMatchObject({ kind: 'unreadable', since: 100, lastTry: 100 });
    expect(ledger.step('/w/a', entry, v(10), 199, WALL)).toBe('wait');
    expect(ledger.step('/w/a', entry, v(10), 200, WALL)).toBe('read');
    ledger.waitFor('/w/a', entry, 'unreadable', 'FILE_UNREADABLE', 'locked', 200);
    expect(entry.wait).toMatchObject({ since: 100, lastTry: 200 });
  });

  it('a stale entry is left alone', () => {
    const ledger = new WatchLedger(TIMING);
    ledger.notice('/w/a', v(10), 0, WALL);
    const stale = pendingOf(ledger, '/w/a');
    ledger.notice('/w/a', v(20), 10, WALL);
    ledger.waitFor('/w/a', stale, 'unreadable', 'FILE_UNREADABLE', 'locked', 20);
    expect(pendingOf(ledger, '/w/a').wait).toBeUndefined();
    expect(ledger.read('/w/a', stale, v(10), parsed(STUDY, '1'), COMPLETE, 200, WALL)).toBeUndefined();
    expect(ledger.get('/w/a')?.state).toBe('pending');
  });
});

describe('watch ledger: a study', () => {
  it('settles studyQuietMs after its last instance was taken, handing on its files sorted by path, once', () => {
    const ledger = new WatchLedger(TIMING);
    take(ledger, '/w/b', '2', 0);
    take(ledger, '/w/a', '1', 200);
    const [uid, bucket] = ledger.studies()[0]!;
    expect(uid).toBe(STUDY);
    expect(ledger.settleAt(STUDY, bucket)).toBe(800);
    expect(ledger.settling(700)).toEqual([{ studyInstanceUid: STUDY, instances: 2, settlesInMs: 100 }]);
    expect(ledger.settle(STUDY, bucket)).toEqual([
      { path: '/w/a', sopInstanceUid: '1', size: 10, mtimeMs: 1 },
      { path: '/w/b', sopInstanceUid: '2', size: 10, mtimeMs: 1 },
    ]);
    expect(ledger.holdsStudy(STUDY, bucket)).toBe(false);
    expect(ledger.get('/w/a')?.state).toBe('emitted');
    expect(ledger.studies()).toEqual([]);
    expect(ledger.knownFiles).toBe(2);
  });

  it('is held back by a file still changing that was there before its last instance, not by one that came later', () => {
    const ledger = new WatchLedger(TIMING);
    ledger.notice('/w/early', v(1), 50, WALL);
    take(ledger, '/w/a', '1', 0);
    const [, bucket] = ledger.studies()[0]!;
    ledger.notice('/w/early', v(2), 400, WALL);
    expect(ledger.settleAt(STUDY, bucket)).toBe(900);
    ledger.notice('/w/late', v(1), 150, WALL);
    ledger.notice('/w/late', v(2), 800, WALL);
    expect(ledger.settleAt(STUDY, bucket)).toBe(900);
  });

  it('waits for an instance of its own cut short, until the watcher gives up on it', () => {
    const ledger = new WatchLedger(TIMING);
    take(ledger, '/w/a', '1', 0);
    ledger.notice('/w/b', v(5), 300, WALL);
    const cut = pendingOf(ledger, '/w/b');
    ledger.read('/w/b', cut, v(5), { ok: false, code: 'FILE_TRUNCATED', reason: 'cut short', studyInstanceUid: STUDY }, COMPLETE, 400, WALL);
    const [, bucket] = ledger.studies()[0]!;
    expect(ledger.settleAt(STUDY, bucket)).toBe(1_400);
    expect(ledger.settleAt('1.2.3.other', bucket)).toBe(600);
  });

  it('restarts its quiet period when a file of it changed after it was read, and walks that found files hold every study', () => {
    const ledger = new WatchLedger(TIMING);
    take(ledger, '/w/a', '1', 0);
    const [, bucket] = ledger.studies()[0]!;
    ledger.restartQuiet(bucket, 300);
    expect(ledger.settleAt(STUDY, bucket)).toBe(800);
    ledger.holdAllStudies(200);
    expect(ledger.settleAt(STUDY, bucket)).toBe(800);
    ledger.holdAllStudies(600);
    expect(ledger.settleAt(STUDY, bucket)).toBe(1_100);
  });

  it('loses a forgotten file, and is gone once it has no files left', () => {
    const ledger = new WatchLedger(TIMING);
    take(ledger, '/w/a', '1', 0);
    take(ledger, '/w/b', '2', 0);
    const [, bucket] = ledger.studies()[0]!;
    ledger.forget('/w/a');
    expect(ledger.settling(0)[0]?.instances).toBe(1);
    ledger.forget('/w/b');
    expect(ledger.holdsStudy(STUDY, bucket)).toBe(false);
    expect(ledger.knownFiles).toBe(0);
  });
});

describe('watch ledger: reconcile walks', () => {
  it('a complete walk forgets the files it did not see, but not those noticed since it began', () => {
    const ledger = new WatchLedger(TIMING);
    ledger.notice('/w/seen', v(1), 0, WALL);
    ledger.notice('/w/gone', v(1), 0, WALL);
    const scan = ledger.beginScan();
    expect(ledger.seen('/w/seen', scan)?.seenInScan).toBe(scan);
    expect(ledger.seen('/w/new', scan)).toBeUndefined();
    ledger.notice('/w/behind', v(1), 60, WALL);
    expect(ledger.forgetUnseen(scan, 50)).toBe(1);
    expect(ledger.get('/w/gone')).toBeUndefined();
    expect(ledger.get('/w/seen')).toBeDefined();
    expect(ledger.get('/w/behind')).toBeDefined();
    expect(ledger.pending().sort()).toEqual(['/w/behind', '/w/seen']);
  });
});
