// The desktop API's sender over the real core, the relay binary and a real Orthanc: a STAT study
// queued while a routine one is sending goes at once, a study sent again as STAT makes its job STAT,
// and a study the PACS did not take is retried through the relay. The relay gives a delivery up
// after two attempts, so a stopped Orthanc fails a study instead of keeping it waiting.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { generateStudy, type GeneratedStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventChannel, EventChannels, InvokeChannel, InvokeResponse, QueueItem } from '../../src/common/ipc-contract.js';
import { createCore } from '../../src/core/create-core.js';
import { createDesktopApi, type DesktopApi } from '../../src/app/desktop-api.js';
import { expectedUntouched, jobNow, plantJobs, RETRIED, UNTOUCHED } from '../core/upload/queue-fixture.js';
import { ACCOUNTS, startRelayStack, type RelayStack } from './relay-stack.js';

let stack: RelayStack;
let api: DesktopApi;
const events: { channel: EventChannel; payload: unknown }[] = [];

async function ok<C extends InvokeChannel>(channel: C, request?: unknown): Promise<InvokeResponse<C>> {
  const result = await api.invoke(channel, request);
  if (!result.ok) throw new Error(`${channel} refused: ${JSON.stringify(result.error)}`);
  return result.value;
}

const jobOf = async (studyInstanceUid: string): Promise<QueueItem | undefined> => (await ok('queue:list')).find((item) => item.studyInstanceUid === studyInstanceUid);
const stateOf = async (studyInstanceUid: string) => (await jobOf(studyInstanceUid))?.state;
const queueEvents = () => events.filter((e) => e.channel === 'queue:changed').map((e) => e.payload as EventChannels['queue:changed']);

/** A study generated under the stack's folder and imported through the API. */
async function imported(name: string, options: Parameters<typeof generateStudy>[1]): Promise<GeneratedStudy> {
  const study = await generateStudy(join(stack.workDir, name), options);
  await ok('import:paths', { paths: [join(stack.workDir, name)] });
  return study;
}

function relayDb<T>(read: (db: Database.Database) => T): T {
  const db = new Database(join(stack.relayDataDir, 'relay.db'), { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** What the relay holds of a study: its uploads, and the chunks it acknowledged with their bytes. */
const relayRecord = (studyInstanceUid: string) => relayDb((db) => db.prepare(`SELECT COUNT(DISTINCT u.id) AS uploads, COUNT(c.upload_id) AS chunks,
    COALESCE(SUM(c.length), 0) AS bytes FROM uploads u LEFT JOIN upload_chunks c ON c.upload_id = u.id WHERE u.study_instance_uid = ?`)
  .get(studyInstanceUid) as { uploads: number; chunks: number; bytes: number });

/** The relay's count of chunk bytes it stored (GET /metrics): a chunk sent twice is not stored twice, but refused or duplicate. */
async function relayMetric(name: string): Promise<number> {
  const text = await (await fetch(`${stack.metricsUrl}/metrics`)).text();
  return text.split('\n').filter((line) => line.startsWith(name)).reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

beforeAll(async () => {
  stack = await startRelayStack('desktop-api-sending', { delivery: { maxAttempts: 2 } });
  const core = await createCore({ dataDir: join(stack.workDir, 'agent') });
  api = await createDesktopApi({ core, chooseImportPaths: async () => [], log: () => undefined, senderIdleMs: 200, queueEventIntervalMs: 50 });
  api.onEvent((channel, payload) => events.push({ channel, payload }));
  await ok('session:sign-in', { relayUrl: stack.relayUrl, username: ACCOUNTS.radiographer.username, password: ACCOUNTS.radiographer.password });
}, 120_000);

afterAll(async () => {
  await api?.close();
  await stack?.stop();
});

describe('sending from the desktop', () => {
  it('sends a STAT study queued while a routine one uploads at once, then finishes the routine one, nothing sent twice', async () => {
    // About 1 MB routine under a 300 KB/s cap: over three seconds of sending. Small instances keep
    // what the routine study has on its way when the STAT one comes (one chunk per parallel sender,
    // a chunk never spans two instances) well under a second.
    const routine = await imported('routine-big', { instances: 32, series: 2, rows: 128, columns: 128 });
    const stat = await imported('stat-small', { instances: 3, rows: 64, columns: 64 });
    const bytesBefore = await relayMetric('relaypacs_upload_bytes_received_total');
    const refusedBefore = await relayMetric('relaypacs_chunk_rejections_total');
    await ok('settings:set', { maxBytesPerSecond: 300_000 });
    events.length = 0;
    await ok('import:send', { studies: [{ studyInstanceUid: routine.studyInstanceUid, serviceLevel: 'ROUTINE' }] });
    await expect.poll(async () => (await jobOf(routine.studyInstanceUid))?.bytesSent ?? 0, { timeout: 15_000, interval: 50 }).toBeGreaterThan(0);
    await ok('import:send', { studies: [{ studyInstanceUid: stat.studyInstanceUid, serviceLevel: 'STAT' }] });
    await expect.poll(() => stateOf(stat.studyInstanceUid), { timeout: 30_000, interval: 50 }).toMatch(/delivered|confirmed/);
    await expect.poll(() => stateOf(routine.studyInstanceUid), { timeout: 30_000, interval: 100 }).toMatch(/delivered|confirmed/);

    // As the queue showed it: when the STAT study arrived in PACS, the routine one was still sending.
    const statArrived = queueEvents().find((queue) => queue.some((i) => i.studyInstanceUid === stat.studyInstanceUid && /delivered|confirmed/.test(i.state)))!;
    expect(statArrived.find((i) => i.studyInstanceUid === routine.studyInstanceUid)?.state).toBe('uploading');
    // The catalog says the same: the STAT job finished first.
    const history = await ok('history:list', {});
    const finished = (uid: string) => Date.parse(history.find((h) => h.studyInstanceUid === uid)!.finishedAt);
    expect(finished(stat.studyInstanceUid)).toBeLessThan(finished(routine.studyInstanceUid));

    expect(await stack.heldInOrthanc(routine.instances.map((i) => i.sopInstanceUid))).toBe(32);
    expect(await stack.heldInOrthanc(stat.instances.map((i) => i.sopInstanceUid))).toBe(3);
    // One upload each; the relay stored exactly both studies' bytes and refused no chunk.
    expect(relayRecord(routine.studyInstanceUid)).toMatchObject({ uploads: 1, bytes: routine.totalBytes });
    expect(relayRecord(stat.studyInstanceUid)).toMatchObject({ uploads: 1, bytes: stat.totalBytes });
    expect(await relayMetric('relaypacs_upload_bytes_received_total') - bytesBefore).toBe(routine.totalBytes + stat.totalBytes);
    expect(await relayMetric('relaypacs_chunk_rejections_total') - refusedBefore).toBe(0);
    await ok('settings:set', { maxBytesPerSecond: 0 });
  }, 90_000);

  it('makes a waiting routine job STAT, with the clinical history, when the study is sent again as STAT', async () => {
    const study = await imported('sent-twice', { instances: 2, rows: 64, columns: 64 });
    // Routine studies wait for a window two hours away.
    const at = (minutes: number) => {
      const time = new Date(Date.now() + minutes * 60_000);
      return `${String(time.getHours()).padStart(2, '0')}:${String(time.getMinutes()).padStart(2, '0')}`;
    };
    await ok('settings:set', { routineWindows: [`${at(120)}-${at(180)}`] });
    try {
      const { jobIds: [jobId] } = await ok('import:send', { studies: [{ studyInstanceUid: study.studyInstanceUid, serviceLevel: 'ROUTINE' }] });
      await expect.poll(async () => (await jobOf(study.studyInstanceUid))?.error?.code, { timeout: 10_000, interval: 100 }).toBe('WAITING_FOR_WINDOW');
      const again = await ok('import:send', { studies: [{ studyInstanceUid: study.studyInstanceUid, serviceLevel: 'STAT', clinicalHistory: 'query fracture' }] });
      expect(again.jobIds).toEqual([jobId]);
      expect((await jobOf(study.studyInstanceUid))!.serviceLevel).toBe('STAT');
      await expect.poll(() => stateOf(study.studyInstanceUid), { timeout: 30_000, interval: 100 }).toMatch(/delivered|confirmed/);
      expect(relayDb((db) => db.prepare('SELECT service_level, clinical_history FROM uploads WHERE study_instance_uid = ?').all(study.studyInstanceUid)))
        .toEqual([{ service_level: 'STAT', clinical_history: 'query fracture' }]);
    } finally {
      await ok('settings:set', { routineWindows: [] });
    }
  }, 60_000);

  it('retries a study the PACS did not take through the relay, sending nothing again, until Orthanc has every instance once', async () => {
    const study = await imported('pacs-down', { instances: 3, rows: 64, columns: 64 });
    await stack.orthanc.pause();
    try {
      await ok('import:send', { studies: [{ studyInstanceUid: study.studyInstanceUid, serviceLevel: 'ROUTINE' }] });
      await expect.poll(() => stateOf(study.studyInstanceUid), { timeout: 30_000, interval: 100 }).toBe('failed');
    } finally {
      await stack.orthanc.resume();
    }
    const failed = (await jobOf(study.studyInstanceUid))!;
    expect(failed.error).toEqual({ code: 'PACS_REJECTED', message: expect.stringMatching(/^The PACS refused 3 of 3 images: gave up after 2 attempts: .*Retry once; if it fails again, tell IT with the job number\.$/) });
    expect(await ok('status:get')).toMatchObject({ activity: 'attention', failed: 1 });
    const before = relayRecord(study.studyInstanceUid);
    expect(before).toMatchObject({ uploads: 1, bytes: study.totalBytes });

    expect(await ok('queue:act', { action: 'retry', jobId: 'all' })).toEqual({ changed: 1 });
    await expect.poll(() => stateOf(study.studyInstanceUid), { timeout: 30_000, interval: 100 }).toMatch(/delivered|confirmed/);
    // The relay re-delivered what it held: no new upload, no new chunk; every instance in Orthanc once.
    expect(relayRecord(study.studyInstanceUid)).toEqual(before);
    expect(relayDb((db) => db.prepare(`SELECT COUNT(*) AS n FROM audit_log WHERE action = 'upload-retry'`).get())).toEqual({ n: 1 });
    const held = (await stack.orthanc.listInstances()).filter((i) => study.instances.some((s) => s.sopInstanceUid === i.sopInstanceUid));
    expect(held.map((i) => i.sopInstanceUid).sort()).toEqual(study.instances.map((i) => i.sopInstanceUid).sort());
    expect((await jobOf(study.studyInstanceUid))!.error).toBeUndefined();
    expect(await ok('status:get')).toMatchObject({ failed: 0 });
  }, 90_000);
});

describe('Retry all from the desktop', () => {
  it('retries failed jobs and jobs backing off, leaving delivered, confirmed, cancelled and paused ones as they were (as `relaypacs retry --all`)', async () => {
    const dataDir = join(stack.workDir, 'agent');
    const planted = plantJobs(dataDir, '1.2.826.0.1.3680043.99.71');
    const retried = await ok('queue:act', { action: 'retry', jobId: 'all' });
    expect(retried).toEqual({ changed: RETRIED.length });
    const untouched = Object.fromEntries(UNTOUCHED.map((name) => [name, (({ state, errorCode }) => ({ state, errorCode }))(jobNow(dataDir, planted[name]))]));
    expect(untouched).toEqual(expectedUntouched());
    // The planted studies are not in the catalog: let what was retried fail again, then dismiss it.
    for (const name of RETRIED) {
      await expect.poll(() => jobNow(dataDir, planted[name]).state, { timeout: 10_000, interval: 50 }).toBe('failed');
      await ok('queue:act', { action: 'cancel', jobId: planted[name] });
    }
  }, 30_000);
});

describe('a patient-named folder whose files disappear mid-upload', () => {
  it('shows the job failed in the queue, its history and status with no part of the path', async () => {
    const study = await imported('DOE^JANE 1970', { instances: 24, series: 2, rows: 256, columns: 256 });
    await ok('settings:set', { maxBytesPerSecond: 400_000 });
    try {
      await ok('import:send', { studies: [{ studyInstanceUid: study.studyInstanceUid, serviceLevel: 'STAT' }] });
      await expect.poll(async () => (await jobOf(study.studyInstanceUid))?.bytesSent ?? 0, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0);
      await rm(join(stack.workDir, 'DOE^JANE 1970'), { recursive: true, force: true });
      await expect.poll(() => stateOf(study.studyInstanceUid), { timeout: 30_000, interval: 50 }).toBe('failed');
    } finally {
      await ok('settings:set', { maxBytesPerSecond: 0 });
    }
    const job = (await jobOf(study.studyInstanceUid))!;
    expect(job.error).toMatchObject({ code: 'FILE_UNREADABLE' });
    const shown = JSON.stringify({ job, history: await ok('history:list', {}), status: await ok('status:get'), events: queueEvents().slice(-3) });
    expect(shown).not.toMatch(/DOE|JANE|1970/);
    await ok('queue:act', { action: 'cancel', jobId: job.jobId });
  }, 60_000);
});
