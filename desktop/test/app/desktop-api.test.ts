// The desktop API service over the real core: the relay binary forwarding to a real Orthanc, the
// session's refresh token in a real gnome-keyring, the catalog a real SQLite file. The tests share
// one API (as the app does for a day) and run in order: the second signs in.
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateStudy, type GeneratedStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventChannel, EventChannels, ImportReview, InvokeChannel, InvokeResponse, IpcResult, QueueItem, WatchedFolderStatus } from '../../src/common/ipc-contract.js';
import { INVOKE_CHANNELS } from '../../src/common/ipc-contract.js';
import { createCore } from '../../src/core/create-core.js';
import { userAccount } from '../../src/core/secrets/credential-account.js';
import { createCredentialStore } from '../../src/core/secrets/os-keychain-store.js';
import { createDesktopApi, type DesktopApi, type DesktopNotice } from '../../src/app/desktop-api.js';
import type { DesktopPolicy } from '../../src/app/desktop-settings.js';
import { ACCOUNTS, startRelayStack, type RelayStack } from './relay-stack.js';

let stack: RelayStack;
let api: DesktopApi;
let dataDir: string;
let chosen: string[] = [];
let policy: DesktopPolicy = { locked: {} };
const events: { channel: EventChannel; payload: unknown }[] = [];
const notices: DesktopNotice[] = [];
const logs: string[] = [];

async function openApi(): Promise<DesktopApi> {
  const core = await createCore({ dataDir });
  const opened = await createDesktopApi({
    core,
    chooseImportPaths: async () => chosen,
    policy: () => policy,
    notify: (notice) => notices.push(notice),
    log: (message) => logs.push(message),
    watchTimings: { stabilityMs: 200, studyQuietMs: 1_000, pollIntervalMs: 100, reconcileIntervalMs: 2_000 },
    senderIdleMs: 200,
    queueEventIntervalMs: 100,
  });
  opened.onEvent((channel, payload) => events.push({ channel, payload }));
  return opened;
}

async function call<C extends InvokeChannel>(channel: C, request?: unknown): Promise<IpcResult<InvokeResponse<C>>> {
  return api.invoke(channel, request);
}

async function ok<C extends InvokeChannel>(channel: C, request?: unknown): Promise<InvokeResponse<C>> {
  const result = await call(channel, request);
  if (!result.ok) throw new Error(`${channel} refused: ${JSON.stringify(result.error)}`);
  return result.value;
}

async function refused(channel: string, request?: unknown) {
  const result = await api.invoke(channel, request);
  if (result.ok) throw new Error(`${channel} was accepted: ${JSON.stringify(result.value)}`);
  return result.error;
}

const eventsOf = <E extends EventChannel>(channel: E) => events.filter((e) => e.channel === channel).map((e) => e.payload as EventChannels[E]);
const jobOf = async (studyInstanceUid: string): Promise<QueueItem | undefined> => (await ok('queue:list')).find((item) => item.studyInstanceUid === studyInstanceUid);
const stateOf = async (studyInstanceUid: string) => (await jobOf(studyInstanceUid))?.state;

/** HH:MM of local time `minutes` from now. */
function clockIn(minutes: number): string {
  const at = new Date(Date.now() + minutes * 60_000);
  return `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
}

function localDate(at: Date): string {
  return `${at.getFullYear()}-${String(at.getMonth() + 1).padStart(2, '0')}-${String(at.getDate()).padStart(2, '0')}`;
}

beforeAll(async () => {
  stack = await startRelayStack('desktop-api');
  dataDir = join(stack.workDir, 'agent');
  api = await openApi();
}, 120_000);

afterAll(async () => {
  await api?.close();
  await stack?.stop();
});

describe('the boundary', () => {
  it('refuses payloads of the wrong shape with INVALID_REQUEST and a sentence, and never throws', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['session:sign-in', { relayUrl: 'ftp://relay', username: 'a', password: 'b' }, /relay address must start with https:\/\/ or http:\/\//i],
      ['session:sign-in', { relayUrl: stack.relayUrl, username: 'a' }, /password must be filled in/i],
      ['session:sign-in', { relayUrl: stack.relayUrl, username: 'a', password: 'b', totp: '12ab56' }, /code must be six digits/i],
      ['session:sign-in', { relayUrl: stack.relayUrl, username: 'a', password: 'b', extra: 1 }, /unknown field "extra"/i],
      ['session:sign-in', 'alice', /must be an object/i],
      ['import:paths', { paths: [] }, /Choose at least one folder or file/],
      ['import:paths', { paths: ['relative/folder'] }, /full path/],
      ['import:send', { studies: [{ studyInstanceUid: '1.2.x', serviceLevel: 'STAT' }] }, /valid Study Instance UID/],
      ['import:send', { studies: [{ studyInstanceUid: '1.2.3', serviceLevel: 'URGENT' }] }, /service level of study 1 must be one of STAT, ROUTINE/i],
      ['import:send', { studies: [{ studyInstanceUid: '1.2.3', serviceLevel: 'STAT', clinicalHistory: 'x'.repeat(10_001) }] }, /at most 10000 characters/i],
      ['queue:act', { action: 'explode', jobId: 1 }, /action must be one of pause, resume, cancel, retry/i],
      ['queue:act', { action: 'pause', jobId: -3 }, /job number or "all"/i],
      ['watch:add', { path: '/tmp/x', serviceLevel: 'STAT' }, /what happens after delivery must be one of keep, move, delete/i],
      ['history:list', { from: '2024-02-31x' }, /start date must be a date/i],
      ['history:list', { from: '2024-03-02', to: '2024-03-01' }, /start date must not be after the end date/i],
      ['settings:set', { colour: 'red' }, /unknown field "colour"/i],
      ['settings:set', { maxBytesPerSecond: -1 }, /whole number of bytes per second/i],
      ['settings:set', { theme: 'neon' }, /theme must be one of system, light, dark/i],
      ['queue:list', { sneaky: true }, /takes no values/],
      ['import:choose', { kind: 'everything' }, /kind must be one of folder, files/i],
      ['no-such:channel', {}, /not known/],
    ];
    for (const [channel, request, message] of cases) {
      const error = await refused(channel, request);
      expect(error.code, channel).toBe('INVALID_REQUEST');
      expect(error.message, channel).toMatch(message);
      expect(error.message, channel).toMatch(/^[A-Z].*\.$/);
    }
    // Values the settings store itself refuses (ranges, parse) come back the same way.
    expect(await refused('settings:set', { maxBytesPerSecond: 5_000 })).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/too low/) });
    expect(await refused('settings:set', { routineWindows: ['25:00-07:00'] })).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/not a time of day/) });
    // Before anyone signs in, sending is refused with what to do.
    expect(await refused('import:send', { studies: [{ studyInstanceUid: '1.2.3', serviceLevel: 'STAT' }] })).toMatchObject({ code: 'SESSION_EXPIRED', message: 'Sign in to send studies.' });
    expect(await ok('status:get')).toMatchObject({ signedIn: false, activity: 'idle' });
    // Every channel of the contract has an implementation (an unknown one would answer "not known").
    for (const channel of INVOKE_CHANNELS) {
      const result = await api.invoke(channel, { definitely: 'wrong' });
      if (!result.ok) expect(result.error.message, channel).not.toMatch(/not known/);
    }
  });
});

describe('a working day', () => {
  let study: GeneratedStudy;
  let review: ImportReview;

  it('signs in through the relay, keeping the refresh token in the keychain only', async () => {
    const wrong = await refused('session:sign-in', { relayUrl: stack.relayUrl, username: ACCOUNTS.radiographer.username, password: 'not the password' });
    expect(wrong).toMatchObject({ code: 'SIGN_IN_FAILED', message: 'Sign-in failed: the user name, password or code is not right.' });
    const nowhere = await refused('session:sign-in', { relayUrl: 'http://127.0.0.1:9', username: 'someone', password: 'whatever 12' });
    expect(nowhere.code).toBe('RELAY_UNREACHABLE');
    expect(await ok('session:get')).toBeNull();

    const info = await ok('session:sign-in', { relayUrl: `${stack.relayUrl}/`, username: ACCOUNTS.radiographer.username, password: ACCOUNTS.radiographer.password, totp: '' });
    expect(info).toEqual({ relayUrl: stack.relayUrl, username: ACCOUNTS.radiographer.username, role: 'radiographer' });
    expect(await ok('session:get')).toEqual(info);
    await expect.poll(async () => (await ok('status:get')).signedIn).toBe(true);
    expect(eventsOf('status:changed').at(-1)).toMatchObject({ signedIn: true, online: true });
    // The relay address is remembered for the next sign-in.
    expect((await ok('settings:get')).settings.relayUrl).toBe(stack.relayUrl);
    // No refresh token in any file of the app's data folder.
    for (const name of await readdir(dataDir)) {
      if (name === 'tmp') continue;
      const bytes = await readFile(join(dataDir, name)).catch(() => Buffer.alloc(0));
      expect(bytes.includes('rpr_'), name).toBe(false);
    }
  });

  it('imports a chosen folder and reviews the study with its problems', async () => {
    study = await generateStudy(join(stack.workDir, 'import-me'), {
      instances: 8, series: 2, rows: 256, columns: 256, modality: 'CT', patient: { name: 'QUIMBLEFORD^ADA', id: 'SYN0000042' },
    });
    await writeFile(join(stack.workDir, 'import-me', 'BROKEN.dcm'), 'this is not an image');
    chosen = [join(stack.workDir, 'import-me')];
    const paths = await ok('import:choose', { kind: 'folder' });
    expect(paths).toEqual(chosen);
    events.length = 0;
    review = await ok('import:paths', { paths });
    expect(review.counts).toMatchObject({ found: 9, imported: 8, skipped: 1, duplicates: 0, conflicts: 0 });
    expect(review.studies).toEqual([{
      studyInstanceUid: study.studyInstanceUid,
      patientName: 'QUIMBLEFORD, ADA', patientId: 'SYN0000042',
      studyDate: `${study.studyDate.slice(0, 4)}-${study.studyDate.slice(4, 6)}-${study.studyDate.slice(6)}`,
      description: expect.any(String), modalities: ['CT'], seriesCount: 2, instanceCount: 8, totalBytes: study.totalBytes, conflicts: 0, fileHeaderAdded: 0,
    }]);
    expect(review.problems).toEqual([{ displayName: join(stack.workDir, 'import-me', 'BROKEN.dcm'), code: 'FILE_NOT_DICOM', reason: expect.any(String) }]);
    expect(eventsOf('import:progress').at(-1)).toEqual({ found: 9, imported: 8, duplicates: 0, skipped: 1 });
  });

  it('sends STAT with clinical history under a bandwidth cap: progress, speed and ETA, then in PACS, notified', async () => {
    await ok('settings:set', { maxBytesPerSecond: 400_000 });
    events.length = 0;
    const { jobIds } = await ok('import:send', { studies: [{ studyInstanceUid: study.studyInstanceUid, serviceLevel: 'STAT', clinicalHistory: 'fall, query fracture' }] });
    expect(jobIds).toHaveLength(1);
    await expect.poll(() => stateOf(study.studyInstanceUid), { timeout: 30_000, interval: 100 }).toMatch(/delivered|confirmed/);
    expect(await stack.heldInOrthanc(study.instances.map((i) => i.sopInstanceUid))).toBe(8);

    // The queue showed it moving: bytes growing, a speed near the cap, a time left.
    const sending = eventsOf('queue:changed').flatMap((queue) => queue.filter((item) => item.jobId === jobIds[0] && item.state === 'uploading'));
    expect(sending.length).toBeGreaterThan(2);
    const measured = sending.filter((item) => item.bytesPerSecond > 0);
    expect(measured.length).toBeGreaterThan(0);
    for (const item of measured) {
      expect(item.bytesPerSecond).toBeGreaterThan(100_000);
      expect(item.bytesPerSecond).toBeLessThan(1_000_000);
      expect(item.etaSeconds).not.toBeNull();
    }
    expect(sending.map((i) => i.bytesSent)).toEqual([...sending.map((i) => i.bytesSent)].sort((a, b) => a - b));
    const done = (await jobOf(study.studyInstanceUid))!;
    expect(done).toMatchObject({ serviceLevel: 'STAT', patientName: 'QUIMBLEFORD, ADA', bytesSent: study.totalBytes, totalBytes: study.totalBytes, instanceCount: 8, bytesPerSecond: 0, etaSeconds: null });
    expect(done.error).toBeUndefined();
    const activity = eventsOf('status:changed').map((s) => s.activity);
    expect(activity).toContain('sending');
    expect(activity.at(-1)).toBe('idle');
    expect(notices).toContainEqual({ kind: 'stat-delivered', jobId: jobIds[0], title: 'STAT study is in PACS', body: expect.stringContaining('has been delivered') });
    expect(JSON.stringify(notices)).not.toContain('QUIMBLEFORD');

    // The service level and clinical history travelled to the relay.
    const { default: Database } = await import('better-sqlite3');
    const relayDb = new Database(join(stack.relayDataDir, 'relay.db'), { readonly: true, fileMustExist: true });
    try {
      expect(relayDb.prepare('SELECT service_level, clinical_history FROM uploads WHERE study_instance_uid = ?').get(study.studyInstanceUid))
        .toEqual({ service_level: 'STAT', clinical_history: 'fall, query fracture' });
    } finally {
      relayDb.close();
    }
    await ok('settings:set', { maxBytesPerSecond: 0 });
  }, 60_000);

  it('lists it in history with filters, and exports CSV (RFC 4180)', async () => {
    const today = localDate(new Date());
    const all = await ok('history:list', {});
    expect(all.find((h) => h.studyInstanceUid === study.studyInstanceUid)).toMatchObject({
      patientName: 'QUIMBLEFORD, ADA', patientId: 'SYN0000042', serviceLevel: 'STAT', instanceCount: 8, totalBytes: study.totalBytes, state: expect.stringMatching(/delivered|confirmed/),
    });
    expect(await ok('history:list', { text: 'quimble ada' })).toHaveLength(1);
    expect(await ok('history:list', { text: 'SYN0000042' })).toHaveLength(1);
    expect(await ok('history:list', { text: 'nobody-here' })).toHaveLength(0);
    expect(await ok('history:list', { text: '100%_' })).toHaveLength(0);
    expect(await ok('history:list', { serviceLevel: 'ROUTINE', text: 'quimble' })).toHaveLength(0);
    expect(await ok('history:list', { state: 'failed', text: 'quimble' })).toHaveLength(0);
    expect(await ok('history:list', { from: today, to: today, text: 'quimble' })).toHaveLength(1);
    expect(await ok('history:list', { to: '2001-01-01' })).toHaveLength(0);

    const { csv, rows } = await ok('history:export', { text: 'quimble' });
    expect(rows).toBe(1);
    const lines = csv.split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(lines[0]).toBe('Finished,Patient name,Patient ID,Study date,Description,Service level,State,Images,Size (bytes),Job,Study Instance UID,Problem,Report');
    expect(lines[1]).toContain(',"QUIMBLEFORD, ADA",SYN0000042,');
    expect(lines[1]).toContain(`,STAT,`);
    expect(lines[1]).toContain(`,8,${study.totalBytes},`);
  });

  it('shows a study the relay refuses as failed, with the reason and what to do; a dismissed failure clears the attention', async () => {
    const mr = await generateStudy(join(stack.workDir, 'mr'), { instances: 2, rows: 64, columns: 64, modality: 'MR' });
    const mrReview = await ok('import:paths', { paths: [join(stack.workDir, 'mr')] });
    expect(mrReview.studies.map((s) => s.modalities)).toEqual([['MR']]);
    const { jobIds } = await ok('import:send', { studies: [{ studyInstanceUid: mr.studyInstanceUid, serviceLevel: 'ROUTINE' }] });
    await expect.poll(() => stateOf(mr.studyInstanceUid), { timeout: 30_000, interval: 100 }).toBe('failed');
    const failed = (await jobOf(mr.studyInstanceUid))!;
    expect(failed.error).toEqual({ code: 'UPLOAD_REJECTED', message: expect.stringMatching(/^The relay refused 2 of 2 images: .*not on this relay's list of accepted SOP classes\. /) });
    expect(await ok('status:get')).toMatchObject({ activity: 'attention', failed: 1 });
    const history = await ok('history:list', { state: 'failed' });
    expect(history.find((h) => h.jobId === jobIds[0])?.error?.code).toBe('UPLOAD_REJECTED');
    expect(notices.at(-1)).toMatchObject({ kind: 'failure', jobId: jobIds[0] });
    expect(await stack.heldInOrthanc(mr.instances.map((i) => i.sopInstanceUid))).toBe(0);

    expect(await ok('queue:act', { action: 'cancel', jobId: jobIds[0] })).toEqual({ changed: 1 });
    expect(await stateOf(mr.studyInstanceUid)).toBe('cancelled');
    expect(await ok('status:get')).toMatchObject({ activity: 'idle', failed: 0 });
    expect(await refused('queue:act', { action: 'retry', jobId: 999_999 })).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/no job 999999/) });
  }, 60_000);

  it('holds routine studies outside their time window; pause, resume and all work on the queue; opening the window sends them', async () => {
    const held = await generateStudy(join(stack.workDir, 'held'), { instances: 2, rows: 64, columns: 64 });
    await ok('import:paths', { paths: [join(stack.workDir, 'held')] });
    await ok('settings:set', { routineWindows: [`${clockIn(120)}-${clockIn(180)}`] });
    const { jobIds: [jobId] } = await ok('import:send', { studies: [{ studyInstanceUid: held.studyInstanceUid, serviceLevel: 'ROUTINE' }] });
    await expect.poll(async () => (await jobOf(held.studyInstanceUid))?.error?.code, { timeout: 10_000, interval: 100 }).toBe('WAITING_FOR_WINDOW');
    const waiting = (await jobOf(held.studyInstanceUid))!;
    expect(waiting).toMatchObject({ state: 'queued', error: { message: expect.stringMatching(/^Routine studies are sent between \d\d:\d\d and \d\d:\d\d\. It goes by itself then; send it as STAT if it cannot wait\.$/) } });

    expect(await ok('queue:act', { action: 'pause', jobId })).toEqual({ changed: 1 });
    expect(await jobOf(held.studyInstanceUid)).toMatchObject({ state: 'paused' });
    expect((await jobOf(held.studyInstanceUid))!.error).toBeUndefined();
    // Resuming something not paused changes nothing, and says so.
    expect(await ok('queue:act', { action: 'pause', jobId })).toEqual({ changed: 0 });
    expect(await ok('queue:act', { action: 'resume', jobId: 'all' })).toEqual({ changed: 1 });
    expect(await ok('queue:act', { action: 'pause', jobId: 'all' })).toEqual({ changed: 1 });
    expect(await ok('queue:act', { action: 'resume', jobId })).toEqual({ changed: 1 });
    expect(eventsOf('queue:changed').at(-1)!.find((i) => i.jobId === jobId)?.state).toBe('queued');

    await ok('settings:set', { routineWindows: [] });
    await expect.poll(() => stateOf(held.studyInstanceUid), { timeout: 30_000, interval: 100 }).toMatch(/delivered|confirmed/);
  }, 60_000);

  it('pauses a study mid-upload between chunks, and resumes it from what the relay holds', async () => {
    const big = await generateStudy(join(stack.workDir, 'big'), { instances: 8, rows: 256, columns: 256 });
    await ok('import:paths', { paths: [join(stack.workDir, 'big')] });
    await ok('settings:set', { maxBytesPerSecond: 200_000 });
    const { jobIds: [jobId] } = await ok('import:send', { studies: [{ studyInstanceUid: big.studyInstanceUid, serviceLevel: 'ROUTINE' }] });
    await expect.poll(async () => (await jobOf(big.studyInstanceUid))?.bytesSent ?? 0, { timeout: 10_000, interval: 50 }).toBeGreaterThan(0);
    expect(await ok('queue:act', { action: 'pause', jobId })).toEqual({ changed: 1 });
    // The chunks in flight finish (up to a few seconds at the cap on a busy machine); then nothing
    // more goes out: 1.5 s with no new byte, where the cap would have sent 300 kB.
    const sentIn = async (ms: number) => {
      const before = (await jobOf(big.studyInstanceUid))!.bytesSent;
      await new Promise((resolve) => setTimeout(resolve, ms));
      return (await jobOf(big.studyInstanceUid))!.bytesSent - before;
    };
    await expect.poll(() => sentIn(1_500), { timeout: 20_000, interval: 0 }).toBe(0);
    // Still paused (not overwritten by the run that was sending it), and not because it finished.
    const paused = (await jobOf(big.studyInstanceUid))!;
    expect(paused.state).toBe('paused');
    expect(paused.bytesSent).toBeLessThan(big.totalBytes);
    await ok('settings:set', { maxBytesPerSecond: 0 });
    expect(await ok('queue:act', { action: 'resume', jobId })).toEqual({ changed: 1 });
    await expect.poll(() => stateOf(big.studyInstanceUid), { timeout: 30_000, interval: 100 }).toMatch(/delivered|confirmed/);
    expect(await stack.heldInOrthanc(big.instances.map((i) => i.sopInstanceUid))).toBe(8);
  }, 60_000);

  it('watches a folder: added and validated, live status, a study copied in is sent', async () => {
    const inbox = join(stack.workDir, 'inbox');
    await mkdir(inbox);
    expect(await refused('watch:add', { path: inbox, serviceLevel: 'ROUTINE', afterDelivery: 'move' })).toMatchObject({ code: 'INVALID_REQUEST', message: 'The done folder is required when files are moved after delivery.' });
    const added = await ok('watch:add', { path: inbox, serviceLevel: 'STAT', routingTag: 'east-wing', afterDelivery: 'keep', usePolling: false });
    expect(added).toEqual([expect.objectContaining({ path: inbox, serviceLevel: 'STAT', routingTag: 'east-wing', afterDelivery: 'keep', usePolling: false })]);
    await expect.poll(async () => (await ok('watch:list'))[0]?.state, { timeout: 10_000 }).toBe('watching');

    const watched = await generateStudy(join(stack.workDir, 'to-watch'), { instances: 3, rows: 64, columns: 64 });
    events.length = 0;
    for (const instance of watched.instances) await copyFile(instance.path, join(inbox, `IM${instance.instanceNumber}`));
    await expect.poll(() => stateOf(watched.studyInstanceUid), { timeout: 30_000, interval: 100 }).toMatch(/delivered|confirmed/);
    expect(await stack.heldInOrthanc(watched.instances.map((i) => i.sopInstanceUid))).toBe(3);
    expect((await jobOf(watched.studyInstanceUid))!.serviceLevel).toBe('STAT');
    // The folder's routing tag reached the relay as the study's facility, which routing rules match on.
    const { default: Database } = await import('better-sqlite3');
    const relayDb = new Database(join(stack.relayDataDir, 'relay.db'), { readonly: true, fileMustExist: true });
    try {
      expect(relayDb.prepare('SELECT facility FROM uploads WHERE study_instance_uid = ?').get(watched.studyInstanceUid)).toEqual({ facility: 'east-wing' });
    } finally {
      relayDb.close();
    }
    // Live status went through "settling" and names the last file seen.
    const statuses = eventsOf('watch:changed').flat() as WatchedFolderStatus[];
    expect(statuses.some((s) => s.studiesSettling > 0)).toBe(true);
    expect((await ok('watch:list'))[0]).toMatchObject({ state: 'watching', studiesSettling: 0, lastFileSeen: { name: expect.stringMatching(/^IM\d$/), at: expect.any(String) } });
  }, 60_000);

  it('refuses what IT policy locks with NOT_ALLOWED, and shows it locked', async () => {
    policy = { locked: { maxBytesPerSecond: true, watchedFolders: true, relayUrl: true }, values: { maxBytesPerSecond: 2_000_000, relayUrl: stack.relayUrl } };
    const view = await ok('settings:get');
    expect(view.locked).toEqual({ maxBytesPerSecond: true, watchedFolders: true, relayUrl: true });
    expect(view.settings.maxBytesPerSecond).toBe(2_000_000);
    expect(await refused('settings:set', { maxBytesPerSecond: 0, theme: 'dark' })).toMatchObject({ code: 'NOT_ALLOWED', message: 'IT has fixed the bandwidth cap for this workstation; it cannot be changed here.' });
    // Nothing of a refused change is written.
    expect((await ok('settings:get')).settings.theme).toBe('system');
    expect((await ok('settings:set', { theme: 'dark' })).settings.theme).toBe('dark');
    expect(await refused('watch:remove', { path: join(stack.workDir, 'inbox') })).toMatchObject({ code: 'NOT_ALLOWED' });
    expect((await ok('watch:list')).every((f) => f.locked === true)).toBe(true);
    expect(await refused('session:sign-in', { relayUrl: 'https://elsewhere.example', username: 'x', password: 'y' })).toMatchObject({ code: 'NOT_ALLOWED', message: expect.stringContaining(stack.relayUrl) });
    policy = { locked: {} };
  });

  it('signs out (keychain item removed, watching stopped); an account without the upload role sees why its study fails', async () => {
    const account = userAccount(stack.relayUrl, ACCOUNTS.radiographer.username);
    const keychain = createCredentialStore();
    expect(await keychain.get(account)).toMatch(/^rpr_/);
    await ok('session:sign-out');
    expect(await keychain.get(account)).toBeUndefined();
    expect(await ok('session:get')).toBeNull();
    expect(await ok('status:get')).toMatchObject({ signedIn: false });
    expect((await ok('watch:list'))[0]).toMatchObject({ state: 'starting', message: 'Watching starts when you sign in.' });
    expect(await refused('queue:act', { action: 'retry', jobId: 'all' })).toMatchObject({ code: 'SESSION_EXPIRED' });

    await ok('session:sign-in', { relayUrl: stack.relayUrl, username: ACCOUNTS.radiologist.username, password: ACCOUNTS.radiologist.password });
    const other = await generateStudy(join(stack.workDir, 'not-allowed'), { instances: 1, rows: 32, columns: 32 });
    await ok('import:paths', { paths: [join(stack.workDir, 'not-allowed')] });
    await ok('import:send', { studies: [{ studyInstanceUid: other.studyInstanceUid, serviceLevel: 'ROUTINE' }] });
    await expect.poll(() => stateOf(other.studyInstanceUid), { timeout: 20_000, interval: 100 }).toBe('failed');
    expect((await jobOf(other.studyInstanceUid))!.error).toEqual({ code: 'NOT_ALLOWED', message: 'Your account is not allowed to do this. Ask an administrator for the right role.' });
    await ok('session:sign-out');
  }, 60_000);

  it('closes cleanly, and a new API over the same data keeps folders and settings', async () => {
    await ok('session:sign-in', { relayUrl: stack.relayUrl, username: ACCOUNTS.radiographer.username, password: ACCOUNTS.radiographer.password });
    const started = performance.now();
    await api.close();
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(await api.invoke('status:get', undefined)).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    api = await openApi();
    expect(await ok('session:get')).toMatchObject({ username: ACCOUNTS.radiographer.username });
    expect((await ok('settings:get')).settings).toMatchObject({ theme: 'dark', relayUrl: stack.relayUrl, maxBytesPerSecond: 0 });
    const folders = await ok('watch:list');
    expect(folders.map((f) => f.path)).toEqual([join(stack.workDir, 'inbox')]);
    await expect.poll(async () => (await ok('watch:list'))[0]?.state, { timeout: 10_000 }).toBe('watching');
    expect((await ok('watch:remove', { path: join(stack.workDir, 'inbox') }))).toEqual([]);
    // Nothing with a patient's name went to the log.
    expect(logs.join('\n')).not.toMatch(/QUIMBLEFORD|SYN0000042/);
  }, 60_000);
});
