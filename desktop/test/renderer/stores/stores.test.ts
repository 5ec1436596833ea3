// @vitest-environment jsdom
import '../support/dom';
import { describe, expect, it } from 'vitest';
import { useHistoryStore } from '../../../src/renderer/stores/history-store';
import { useImportStore } from '../../../src/renderer/stores/import-store';
import { connectLiveUpdates } from '../../../src/renderer/stores/live-updates';
import { useQueueStore } from '../../../src/renderer/stores/queue-store';
import { useSessionStore } from '../../../src/renderer/stores/session-store';
import { useSettingsStore } from '../../../src/renderer/stores/settings-store';
import { useStatusStore } from '../../../src/renderer/stores/status-store';
import { useWatchStore } from '../../../src/renderer/stores/watch-store';
import type { HistoryFilter, HistoryItem, Settings } from '../../../src/common/ipc-contract';
import { installFakeApi, refuse } from '../support/fake-api';
import { historyItem, importReview, queueItem, reviewStudy, SESSION, settingsView, STATUS, watchedFolder } from '../support/fixtures';

describe('session store', () => {
  it('asks the core for the remembered session on start', async () => {
    installFakeApi({ 'session:get': () => SESSION });
    await useSessionStore.getState().load();
    expect(useSessionStore.getState()).toMatchObject({ status: 'signed-in', session: SESSION });
  });

  it('keeps the refusal of a sign-in and asks for a code when the relay wants one', async () => {
    const fake = installFakeApi({ 'session:sign-in': () => { throw refuse('SIGN_IN_FAILED', 'AUTH_TOTP_REQUIRED'); } });
    const ok = await useSessionStore.getState().signIn({ relayUrl: SESSION.relayUrl, username: 'rad1', password: 'pw' });
    expect(ok).toBe(false);
    expect(useSessionStore.getState()).toMatchObject({ status: 'loading', totpRequested: true, busy: false });
    expect(useSessionStore.getState().error?.code).toBe('SIGN_IN_FAILED');

    fake.handlers['session:sign-in'] = () => SESSION;
    expect(await useSessionStore.getState().signIn({ relayUrl: SESSION.relayUrl, username: 'rad1', password: 'pw', totp: '123456' })).toBe(true);
    expect(useSessionStore.getState()).toMatchObject({ status: 'signed-in', error: null, totpRequested: false });
  });

  it('does not ask for a code after a plain wrong password', async () => {
    installFakeApi({ 'session:sign-in': () => { throw refuse('SIGN_IN_FAILED', 'AUTH_INVALID_CREDENTIALS'); } });
    await useSessionStore.getState().signIn({ relayUrl: SESSION.relayUrl, username: 'rad1', password: 'nope' });
    expect(useSessionStore.getState().totpRequested).toBe(false);
  });

  it('goes back to sign-in when any call says the session ended, and forgets patient data', async () => {
    installFakeApi({ 'session:get': () => SESSION, 'queue:list': () => { throw refuse('SESSION_EXPIRED'); } });
    const disconnect = connectLiveUpdates();
    await useSessionStore.getState().load();
    useQueueStore.setState({ items: [queueItem()] });
    useImportStore.setState({ review: importReview(), phase: 'review' });
    await useQueueStore.getState().load();
    disconnect();
    expect(useSessionStore.getState()).toMatchObject({ status: 'signed-out', session: null });
    expect(useSessionStore.getState().notice).toMatch(/session has ended/);
    expect(useQueueStore.getState().items).toEqual([]);
    expect(useImportStore.getState().review).toBeNull();
  });
});

describe('import store', () => {
  it('imports, follows import:progress, then reviews with default choices', async () => {
    let finish!: (review: ReturnType<typeof importReview>) => void;
    const fake = installFakeApi({ 'import:paths': () => new Promise((resolve) => { finish = resolve; }) });
    const disconnect = connectLiveUpdates();
    const running = useImportStore.getState().importPaths(['/exports/study1']);
    expect(useImportStore.getState().phase).toBe('importing');
    fake.emit('import:progress', { found: 10, imported: 8, duplicates: 1, skipped: 1, current: 'IMG0008.dcm' });
    expect(useImportStore.getState().progress).toMatchObject({ found: 10, current: 'IMG0008.dcm' });
    finish(importReview());
    await running;
    disconnect();
    const state = useImportStore.getState();
    expect(state.phase).toBe('review');
    expect(state.progress).toBeNull();
    expect(Object.values(state.choices)).toEqual([
      { selected: true, serviceLevel: 'ROUTINE', clinicalHistory: '' },
      { selected: true, serviceLevel: 'ROUTINE', clinicalHistory: '' },
    ]);
  });

  it('adds a second import to the review, keeping the choices already made', async () => {
    const fake = installFakeApi({ 'import:paths': () => importReview() });
    await useImportStore.getState().importPaths(['/a']);
    useImportStore.getState().setChoice('1.2.826.0.1.3680043.10.1', { serviceLevel: 'STAT' });
    fake.handlers['import:paths'] = () => importReview({ runId: 2, studies: [reviewStudy({ studyInstanceUid: '9.9', patientName: 'NEW^ONE' })], problems: [] });
    await useImportStore.getState().importPaths(['/b']);
    const { review, choices } = useImportStore.getState();
    expect(review?.studies.map((s) => s.studyInstanceUid)).toEqual(['1.2.826.0.1.3680043.10.1', '1.2.826.0.1.3680043.10.2', '9.9']);
    expect(review?.counts.found).toBe(482);
    expect(review?.problems).toHaveLength(1);
    expect(choices['1.2.826.0.1.3680043.10.1']?.serviceLevel).toBe('STAT');
  });

  it('lists a photo found by two imports once, and merges an attachment: its study refreshed, its photos waiting no more, a failed one a problem', async () => {
    const wound = { path: '/scans/wound.jpg', displayName: '/scans/wound.jpg', width: 4, height: 3 };
    const form = { path: '/scans/form.png', displayName: '/scans/form.png' };
    const fake = installFakeApi({ 'import:paths': () => importReview({ photos: [wound, form] }) });
    await useImportStore.getState().importPaths(['/scans']);
    fake.handlers['import:paths'] = () => importReview({ runId: 2, studies: [], problems: [], photos: [wound] });
    await useImportStore.getState().importPaths(['/scans/wound.jpg']);
    expect(useImportStore.getState().review?.photos).toEqual([wound, form]);

    fake.handlers['import:attach-photos'] = () => ({
      runId: 3, counts: { found: 2, imported: 1, duplicates: 0, conflicts: 0, skipped: 1 }, photos: [],
      studies: [reviewStudy({ seriesCount: 3, instanceCount: 121 })],
      problems: [{ displayName: '/scans/form.png', code: 'PHOTO_UNSUPPORTED', reason: 'the PNG does not decode' }],
    });
    expect(await useImportStore.getState().attachPhotos(['/scans/wound.jpg', '/scans/form.png'], { studyInstanceUid: '1.2.826.0.1.3680043.10.1' })).toBe('1.2.826.0.1.3680043.10.1');
    const { review, notice, attaching } = useImportStore.getState();
    expect(attaching).toBe(false);
    expect(review?.photos).toEqual([]);
    expect(review?.studies.map((s) => [s.studyInstanceUid, s.instanceCount])).toEqual([['1.2.826.0.1.3680043.10.1', 121], ['1.2.826.0.1.3680043.10.2', 3]]);
    expect(review?.problems.map((p) => p.displayName)).toEqual(['DICOMDIR/README.TXT', '/scans/form.png']);
    expect(notice).toBe('1 photo attached to DOE, JANE (2024-01-31). 1 photo could not be converted: see the problems below. Send the study to deliver it.');
  });

  it('keeps the photos waiting, with the reason, when an attachment is refused', async () => {
    const wound = { path: '/scans/wound.jpg', displayName: '/scans/wound.jpg' };
    installFakeApi({ 'import:paths': () => importReview({ photos: [wound] }), 'import:attach-photos': () => { throw refuse('INVALID_REQUEST'); } });
    await useImportStore.getState().importPaths(['/scans']);
    expect(await useImportStore.getState().attachPhotos(['/scans/wound.jpg'], { newStudy: { patientName: 'A', patientId: 'B' } })).toBeNull();
    expect(useImportStore.getState()).toMatchObject({ attaching: false, attachError: { code: 'INVALID_REQUEST' }, error: null });
    expect(useImportStore.getState().review?.photos).toEqual([wound]);
  });

  it('sends the selected studies with their service level and clinical history', async () => {
    const fake = installFakeApi({ 'import:paths': () => importReview(), 'import:send': () => ({ jobIds: [7] }) });
    await useImportStore.getState().importPaths(['/a']);
    const store = useImportStore.getState();
    store.setChoice('1.2.826.0.1.3680043.10.1', { serviceLevel: 'STAT', clinicalHistory: '  Fall, query fracture  ' });
    store.setChoice('1.2.826.0.1.3680043.10.2', { selected: false });
    await useImportStore.getState().send();
    expect(fake.requestsTo('import:send')).toEqual([
      { studies: [{ studyInstanceUid: '1.2.826.0.1.3680043.10.1', serviceLevel: 'STAT', clinicalHistory: 'Fall, query fracture' }] },
    ]);
    expect(useImportStore.getState()).toMatchObject({ phase: 'sent', sentJobIds: [7] });
  });

  it('stays in the review with the error when sending is refused', async () => {
    installFakeApi({ 'import:paths': () => importReview(), 'import:send': () => { throw refuse('NOT_ALLOWED'); } });
    await useImportStore.getState().importPaths(['/a']);
    await useImportStore.getState().send();
    expect(useImportStore.getState().phase).toBe('review');
    expect(useImportStore.getState().error?.code).toBe('NOT_ALLOWED');
  });

  it('does nothing when the chooser is closed without a choice', async () => {
    const fake = installFakeApi({ 'import:choose': () => [] });
    await useImportStore.getState().choose('folder');
    expect(fake.requestsTo('import:choose')).toEqual([{ kind: 'folder' }]);
    expect(fake.requestsTo('import:paths')).toEqual([]);
    expect(useImportStore.getState().phase).toBe('idle');
  });
});

describe('queue store', () => {
  it('follows queue:changed and reads the list again after an action', async () => {
    const fake = installFakeApi({ 'queue:list': () => [queueItem({ state: 'paused' })], 'queue:act': () => ({ changed: 1 }) });
    const disconnect = connectLiveUpdates();
    fake.emit('queue:changed', [queueItem()]);
    expect(useQueueStore.getState().items[0]?.state).toBe('uploading');
    await useQueueStore.getState().act('pause', 1);
    disconnect();
    expect(fake.requestsTo('queue:act')).toEqual([{ action: 'pause', jobId: 1 }]);
    expect(useQueueStore.getState()).toMatchObject({ message: 'Paused 1 study.', pending: [] });
    expect(useQueueStore.getState().items[0]?.state).toBe('paused');
  });
});

describe('watch store', () => {
  it('adds and removes folders, taking the list main answers', async () => {
    const fake = installFakeApi({
      'watch:add': (folder) => [watchedFolder({ ...folder, state: 'starting' })],
      'watch:remove': () => [],
    });
    expect(await useWatchStore.getState().add({ path: '/in', serviceLevel: 'STAT', afterDelivery: 'keep', usePolling: true })).toBe(true);
    expect(useWatchStore.getState().folders).toMatchObject([{ path: '/in', state: 'starting', serviceLevel: 'STAT', usePolling: true }]);
    await useWatchStore.getState().remove('/in');
    expect(fake.requestsTo('watch:remove')).toEqual([{ path: '/in' }]);
    expect(useWatchStore.getState().folders).toEqual([]);
  });

  it('follows watch:changed', () => {
    const fake = installFakeApi();
    const disconnect = connectLiveUpdates();
    fake.emit('watch:changed', [watchedFolder({ state: 'missing' })]);
    disconnect();
    expect(useWatchStore.getState().folders[0]?.state).toBe('missing');
  });
});

describe('history store', () => {
  it('sends only the filters that are set', async () => {
    const fake = installFakeApi({ 'history:list': () => [historyItem()] });
    await useHistoryStore.getState().load({ text: '  doe ', state: 'all', from: '', serviceLevel: 'STAT' });
    expect(fake.requestsTo('history:list')).toEqual([{ text: 'doe', state: 'all', serviceLevel: 'STAT' }]);
    expect(useHistoryStore.getState().items).toHaveLength(1);
  });

  it('keeps the answer of the newest filter when an older one answers later', async () => {
    const answers: ((items: HistoryItem[]) => void)[] = [];
    installFakeApi({ 'history:list': (_filter: HistoryFilter) => new Promise<HistoryItem[]>((resolve) => answers.push(resolve)) });
    const older = useHistoryStore.getState().load({ text: 'a' });
    const newer = useHistoryStore.getState().load({ text: 'ab' });
    answers[1]?.([historyItem({ jobId: 2 })]);
    await newer;
    answers[0]?.([historyItem({ jobId: 1 })]);
    await older;
    expect(useHistoryStore.getState().items.map((i) => i.jobId)).toEqual([2]);
  });
});

describe('settings store', () => {
  it('saves only what is not locked', async () => {
    const fake = installFakeApi({
      'settings:get': () => settingsView({ locked: { relayUrl: true } }),
      'settings:set': (changes) => settingsView({ settings: { ...settingsView().settings, ...changes } as Settings, locked: { relayUrl: true } }),
    });
    await useSettingsStore.getState().load();
    await useSettingsStore.getState().save({ relayUrl: 'https://evil.example', maxBytesPerSecond: 5_000_000 });
    expect(fake.requestsTo('settings:set')).toEqual([{ maxBytesPerSecond: 5_000_000 }]);
    expect(useSettingsStore.getState()).toMatchObject({ message: 'Settings saved.', saving: false });
    expect(useSettingsStore.getState().view?.settings.maxBytesPerSecond).toBe(5_000_000);
  });
});

describe('status store', () => {
  it('reads the status and follows status:changed', async () => {
    const fake = installFakeApi({ 'status:get': () => STATUS });
    await useStatusStore.getState().load();
    expect(useStatusStore.getState().summary).toEqual(STATUS);
    const disconnect = connectLiveUpdates();
    fake.emit('status:changed', { ...STATUS, online: false, activity: 'attention', failed: 1 });
    disconnect();
    expect(useStatusStore.getState().summary).toMatchObject({ online: false, activity: 'attention' });
  });

  it('live updates unsubscribe when disconnected', () => {
    const fake = installFakeApi();
    const disconnect = connectLiveUpdates();
    expect(fake.listenerCount('queue:changed')).toBe(1);
    disconnect();
    expect(fake.listenerCount('queue:changed')).toBe(0);
  });
});
