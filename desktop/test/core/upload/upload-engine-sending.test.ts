// The upload engine within the agent's settings (bandwidth cap, routine time windows) and through a
// relay outage, against the real relay (in-process, real HTTP, real SQLite) forwarding to a real
// Orthanc. Set up as upload-engine.test.ts.
import { join } from 'node:path';
import { CuttingProxy, generateStudy, type OrthancServer } from '@relaypacs/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestRelay } from '../../../../server/test/support/test-relay.js';
import type { CatalogDatabase } from '../../../src/core/catalog/catalog-database.js';
import { folderSource } from '../../../src/core/import/folder-source.js';
import { ImportService } from '../../../src/core/import/import-service.js';
import { AgentSettings } from '../../../src/core/settings/agent-settings.js';
import { ConnectivityMonitor } from '../../../src/core/upload/connectivity-monitor.js';
import { RelayClient } from '../../../src/core/upload/relay-client.js';
import { OFFLINE_REASON, UploadEngine, type JobProgress, type UploadEngineOptions } from '../../../src/core/upload/upload-engine.js';
import { startEngineWorld, type EngineWorld } from './engine-test-world.js';

let world: EngineWorld;
let workDir: string;
let orthanc: OrthancServer;
let relay: TestRelay;
let db: CatalogDatabase;
let settings: AgentSettings;
let token: string;

beforeAll(async () => {
  world = await startEngineWorld('relaypacs-engine-sending-');
  ({ workDir, orthanc, relay, db, token } = world);
  settings = new AgentSettings(db);
});
afterEach(() => {
  settings.apply({ maxRate: 'off', routineWindows: 'off' });
});
afterAll(async () => {
  await world?.close();
});

const importStudy = (name: string, instances: number, size?: number) => world.importStudy(name, instances, size);

/** An engine reading the real settings store; `maxAttempts` bounds one a test abandons. */
function engine(overrides: Partial<UploadEngineOptions> = {}): UploadEngine {
  return new UploadEngine({
    db, client: new RelayClient({ baseUrl: relay.url }), accessToken: async () => token, maxAttempts: 3, sourceWorkstation: 'TEST-WS',
    pollIntervalMs: 100, backoffBaseMs: 50, backoffMaxMs: 200, limits: () => settings.sending(), ...overrides,
  });
}

/** How many uploads of a study the relay has (0 when it never heard of it). */
function relayUploads(studyInstanceUid: string): number {
  return (relay.db.prepare(`SELECT COUNT(*) AS uploads FROM uploads WHERE study_instance_uid = ?`).get(studyInstanceUid) as { uploads: number }).uploads;
}

const inOrthanc = async (study: { instances: { sopInstanceUid: string }[] }) =>
  (await orthanc.listInstances()).filter((i) => study.instances.some((s) => s.sopInstanceUid === i.sopInstanceUid)).length;

describe('bandwidth cap', () => {
  it('keeps all parallel chunk sends together under the cap, and sends much faster without it', async () => {
    // About 2 MB: 8 instances of 512×256 16-bit pixels.
    const capped = await generateStudy(join(workDir, 'capped'), { instances: 8, series: 2, rows: 512, columns: 256 });
    const free = await generateStudy(join(workDir, 'free'), { instances: 8, series: 2, rows: 512, columns: 256 });
    for (const name of ['capped', 'free']) await new ImportService({ db }).run(name, folderSource(join(workDir, name)));
    const rate = 1_000_000;
    settings.apply({ maxRate: '1MB/s' });
    const e = engine({ parallelChunks: 4 });
    let started = performance.now();
    expect((await e.run(e.enqueue(capped.studyInstanceUid, 'ROUTINE'), { waitForDelivery: false })).state).toBe('forwarding');
    const cappedSeconds = (performance.now() - started) / 1000;
    // The whole study less one 100 ms burst at exactly the cap is the least time it can take.
    const floor = (capped.totalBytes - 0.1 * rate) / rate;
    expect(capped.totalBytes).toBeGreaterThan(2_000_000);
    expect(cappedSeconds).toBeGreaterThanOrEqual(floor - 0.05);

    settings.apply({ maxRate: 'off' });
    started = performance.now();
    expect((await e.run(e.enqueue(free.studyInstanceUid, 'ROUTINE'), { waitForDelivery: false })).state).toBe('forwarding');
    const freeSeconds = (performance.now() - started) / 1000;
    console.log(`bandwidth cap: ${capped.totalBytes} bytes in ${cappedSeconds.toFixed(2)} s at 1 MB/s (floor ${floor.toFixed(2)} s), ${free.totalBytes} bytes in ${freeSeconds.toFixed(2)} s uncapped`);
    expect(freeSeconds).toBeLessThan(cappedSeconds / 2);
  });

  it('applies a changed cap from the next chunk, without a new engine', async () => {
    const study = await generateStudy(join(workDir, 'changed'), { instances: 4, series: 1, rows: 512, columns: 256 });
    await new ImportService({ db }).run('changed', folderSource(join(workDir, 'changed')));
    settings.apply({ maxRate: '100KB/s' });
    const client = new RelayClient({ baseUrl: relay.url });
    const put = client.putChunk.bind(client);
    let chunks = 0;
    client.putChunk = async (...args: Parameters<RelayClient['putChunk']>) => {
      // After two slow chunks the cap is lifted by another process, as `relaypacs settings` would.
      if (++chunks === 2) settings.apply({ maxRate: 'off' });
      return put(...args);
    };
    const e = engine({ client });
    const started = performance.now();
    const outcome = await e.run(e.enqueue(study.studyInstanceUid, 'STAT'), { waitForDelivery: false });
    expect(outcome.state).toBe('forwarding');
    // At 100 KB/s the 1 MB study would take 10 s; lifted after the second chunk, it takes far less.
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe('STAT first', () => {
  it("holds a routine study's chunks while a STAT one sends, then sends only the rest of it", async () => {
    // About 1 MB of routine at 400 KB/s: some 2.6 s, of which the STAT study's 130 kB takes a fraction.
    const routine = await importStudy('routine-long', 8, 256);
    const stat = await importStudy('stat-short', 4);
    settings.apply({ maxRate: '400KB/s' });
    const client = new RelayClient({ baseUrl: relay.url });
    const puts: { uploadId: string; bytes: number; at: number }[] = [];
    const put = client.putChunk.bind(client);
    client.putChunk = async (...args: Parameters<RelayClient['putChunk']>) => {
      puts.push({ uploadId: args[0], bytes: args[4].length, at: performance.now() });
      return put(...args);
    };
    const completed: string[] = [];
    const complete = client.complete.bind(client);
    client.complete = async (...args: Parameters<RelayClient['complete']>) => {
      completed.push(args[0]);
      return complete(...args);
    };
    const e = engine({ client });
    const routineJob = e.enqueue(routine.studyInstanceUid, 'ROUTINE');
    const routineRun = e.run(routineJob, { waitForDelivery: false });
    await expect.poll(() => puts.length, { timeout: 10_000, interval: 20 }).toBeGreaterThan(2);
    const statJob = e.enqueue(stat.studyInstanceUid, 'STAT');
    const statOutcome = await e.run(statJob, { waitForDelivery: false });
    expect(statOutcome.state).toBe('forwarding');
    const statDoneAt = performance.now();
    expect(e.jobs.find(routineJob)!.state).toBe('uploading');
    expect((await routineRun).state).toBe('forwarding');
    const [routineId, statId] = [e.jobs.find(routineJob)!.relayUploadId!, e.jobs.find(statJob)!.relayUploadId!];
    // The STAT study was accepted first, though queued after the routine one had started.
    expect(completed).toEqual([statId, routineId]);
    // While the STAT study sent, the routine one started no chunk: those it had on their way took
    // their turns under the cap before the STAT study's first (one may trail it if reading its file
    // was slow). Sharing the link instead, about half the chunks in that time would be routine ones.
    const statPuts = puts.filter((p) => p.uploadId === statId);
    const overlapping = puts.filter((p) => p.uploadId === routineId && p.at > statPuts[0]!.at && p.at < statPuts.at(-1)!.at);
    expect(statPuts.length).toBeGreaterThanOrEqual(4);
    expect(overlapping.length).toBeLessThanOrEqual(1);
    expect(puts.filter((p) => p.uploadId === routineId && p.at > statDoneAt).length).toBeGreaterThan(0);
    // Nothing sent twice: each study's bytes went exactly once.
    const sent = (id: string) => puts.filter((p) => p.uploadId === id).reduce((sum, p) => sum + p.bytes, 0);
    expect(sent(statId)).toBe(stat.totalBytes);
    expect(sent(routineId)).toBe(routine.totalBytes);
  });

  it('makes an active job STAT when the study is sent again as STAT, keeping a clinical history it lacked; never the other way', async () => {
    const older = await importStudy('queued-before', 1);
    const study = await importStudy('upgraded', 1);
    const e = engine();
    const olderJob = e.enqueue(older.studyInstanceUid, 'ROUTINE');
    const jobId = e.enqueue(study.studyInstanceUid, 'ROUTINE');
    expect(e.enqueue(study.studyInstanceUid, 'STAT', 'query fracture')).toBe(jobId);
    expect(e.jobs.find(jobId)).toMatchObject({ serviceLevel: 'STAT', clinicalHistory: 'query fracture', state: 'queued' });
    // Sent again as routine, or with another history: nothing changes.
    expect(e.enqueue(study.studyInstanceUid, 'ROUTINE', 'something else')).toBe(jobId);
    expect(e.jobs.find(jobId)).toMatchObject({ serviceLevel: 'STAT', clinicalHistory: 'query fracture' });
    // A paused job too.
    const other = await importStudy('upgraded-paused', 1);
    const pausedJob = e.enqueue(other.studyInstanceUid, 'ROUTINE');
    e.pause(pausedJob);
    expect(e.enqueue(other.studyInstanceUid, 'STAT')).toBe(pausedJob);
    expect(e.jobs.find(pausedJob)).toMatchObject({ serviceLevel: 'STAT', clinicalHistory: null, state: 'paused' });
    e.resume(pausedJob);
    // Made STAT, they go before the routine job queued before them, and the relay gets it as STAT with the history.
    const order = e.jobs.pending().map((j) => j.id);
    expect(order.indexOf(jobId)).toBeLessThan(order.indexOf(olderJob));
    expect(order.indexOf(pausedJob)).toBeLessThan(order.indexOf(olderJob));
    const outcome = await e.run(jobId);
    expect(outcome.state).toBe('confirmed');
    expect(relay.db.prepare('SELECT service_level, clinical_history FROM uploads WHERE id = ?').get(outcome.uploadId))
      .toEqual({ service_level: 'STAT', clinical_history: 'query fracture' });
    // A job the relay has accepted keeps what it was sent as.
    expect(e.enqueue(study.studyInstanceUid, 'ROUTINE')).not.toBe(jobId);
    await e.run(pausedJob);
    await e.cancel(olderJob);
  });

  it('tells the relay when a job is made STAT while it sends, so the relay delivers it as STAT with the history', async () => {
    const study = await importStudy('upgraded-sending', 8);
    settings.apply({ maxRate: '200KB/s' });
    const client = new RelayClient({ baseUrl: relay.url });
    let puts = 0;
    const put = client.putChunk.bind(client);
    client.putChunk = async (...args: Parameters<RelayClient['putChunk']>) => {
      puts++;
      return put(...args);
    };
    const e = engine({ client });
    const jobId = e.enqueue(study.studyInstanceUid, 'ROUTINE');
    const running = e.run(jobId, { waitForDelivery: false });
    await expect.poll(() => puts, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0);
    expect(e.enqueue(study.studyInstanceUid, 'STAT', 'query fracture')).toBe(jobId);
    expect((await running).state).toBe('forwarding');
    expect(relay.db.prepare('SELECT service_level, clinical_history FROM uploads WHERE study_instance_uid = ?').all(study.studyInstanceUid))
      .toEqual([{ service_level: 'STAT', clinical_history: 'query fracture' }]);
  });
});

describe('routine time window', () => {
  it('holds a ROUTINE job outside its window (the relay hears nothing) while STAT goes, then sends it when the window opens', async () => {
    settings.apply({ routineWindows: '20:00-07:00' });
    let clock = new Date(2026, 5, 10, 12, 0);
    const progress: JobProgress[] = [];
    const e = engine({ now: () => clock, onProgress: (p) => progress.push(p) });
    const routine = await importStudy('night', 3);
    const stat = await importStudy('now', 2);
    const routineJob = e.enqueue(routine.studyInstanceUid, 'ROUTINE');
    const held = await e.run(routineJob);
    expect(held).toMatchObject({ state: 'queued', error: { code: 'WAITING_FOR_WINDOW', message: 'routine studies are sent between 20:00 and 07:00' } });
    expect(e.jobs.find(routineJob)).toMatchObject({ state: 'queued', attempts: 0, relayUploadId: null, errorCode: 'WAITING_FOR_WINDOW' });
    expect(progress.at(-1)).toMatchObject({ jobId: routineJob, state: 'queued', reason: { code: 'WAITING_FOR_WINDOW' } });
    expect(relayUploads(routine.studyInstanceUid)).toBe(0);
    // Held again on a second try, still without spending an attempt.
    expect((await e.run(routineJob)).state).toBe('queued');
    expect(e.jobs.find(routineJob)!.attempts).toBe(0);

    expect((await e.run(e.enqueue(stat.studyInstanceUid, 'STAT'))).state).toBe('confirmed');
    expect(relayUploads(routine.studyInstanceUid)).toBe(0);

    clock = new Date(2026, 5, 10, 21, 0);
    expect((await e.run(routineJob)).state).toBe('confirmed');
    expect(e.jobs.find(routineJob)).toMatchObject({ state: 'confirmed', attempts: 0, errorCode: null, lastError: null });
    expect(await inOrthanc(routine)).toBe(3);
  });

  it('waits for the window when asked, sleeping until it opens rather than polling', async () => {
    settings.apply({ routineWindows: '20:00-07:00' });
    let clock = new Date(2026, 5, 10, 12, 0);
    const slept: number[] = [];
    const e = engine({
      now: () => clock, windowRecheckMs: 3_600_000,
      sleep: async (ms) => {
        slept.push(ms);
        clock = new Date(clock.getTime() + ms);
      },
    });
    const study = await importStudy('waited', 2);
    e.enqueue(study.studyInstanceUid, 'ROUTINE');
    const outcome = await e.runPending({ waitForWindow: true });
    expect(outcome.find((o) => o.studyInstanceUid === study.studyInstanceUid)?.state).toBe('confirmed');
    // Eight hours to 20:00, looked at once an hour (settings may change, the job may be paused).
    expect(slept).toEqual(Array(8).fill(3_600_000));
  });

  it('finishes the chunks in flight when the window closes mid-upload, holds the job, and sends only the rest later', async () => {
    settings.apply({ routineWindows: '20:00-07:00' });
    let clock = new Date(2026, 5, 11, 6, 59);
    const study = await importStudy('closing', 6, 256);
    const client = new RelayClient({ baseUrl: relay.url });
    const put = client.putChunk.bind(client);
    let sentBefore = 0;
    let chunks = 0;
    client.putChunk = async (...args: Parameters<RelayClient['putChunk']>) => {
      if (++chunks === 3) clock = new Date(2026, 5, 11, 7, 0);
      sentBefore += args[4].length;
      return put(...args);
    };
    const e = engine({ client, now: () => clock });
    const jobId = e.enqueue(study.studyInstanceUid, 'ROUTINE');
    const outcome = await e.run(jobId);
    expect(outcome).toMatchObject({ state: 'queued', error: { code: 'WAITING_FOR_WINDOW' } });
    const job = e.jobs.find(jobId)!;
    expect(job).toMatchObject({ state: 'queued', attempts: 0 });
    // The chunks already started went (up to one per parallel sender), then nothing more.
    expect(chunks).toBeGreaterThanOrEqual(3);
    expect(chunks).toBeLessThanOrEqual(3 + 3);
    const onRelay = await relay.services.uploads.status(job.relayUploadId!);
    expect(onRelay.state).toBe('receiving');

    let sentAfter = 0;
    const rest = new RelayClient({ baseUrl: relay.url });
    const restPut = rest.putChunk.bind(rest);
    rest.putChunk = async (...args: Parameters<RelayClient['putChunk']>) => {
      sentAfter += args[4].length;
      return restPut(...args);
    };
    clock = new Date(2026, 5, 11, 20, 0);
    expect((await engine({ client: rest, now: () => clock }).run(jobId)).state).toBe('confirmed');
    expect(sentBefore + sentAfter).toBe(study.totalBytes);
    expect(await inOrthanc(study)).toBe(6);
  });
});

describe('offline', () => {
  it('waits while the relay is unreachable without spending attempts, says so, and completes when it is back', async () => {
    const study = await importStudy('offline', 3);
    const proxy = await CuttingProxy.start(Number(new URL(relay.url).port));
    proxy.setDown(true);
    try {
      const client = new RelayClient({ baseUrl: proxy.url, requestTimeoutMs: 2_000 });
      const connectivity = new ConnectivityMonitor({ probe: () => client.isLive(500), backoffBaseMs: 50, backoffMaxMs: 200 });
      const changes: boolean[] = [];
      connectivity.on('change', (online) => changes.push(online));
      const progress: JobProgress[] = [];
      // Two attempts only: an engine that spent attempts on the outage would give up.
      const e = engine({ client, connectivity, maxAttempts: 2, onProgress: (p) => progress.push(p) });
      const jobId = e.enqueue(study.studyInstanceUid, 'STAT');
      const seenWhileDown = new Promise<{ online: boolean; errorCode: string | null; lastError: string | null }>((resolve) => setTimeout(() => {
        const job = e.jobs.find(jobId)!;
        resolve({ online: connectivity.online, errorCode: job.errorCode, lastError: job.lastError });
        proxy.setDown(false);
      }, 1_500));
      const outcome = await e.run(jobId);
      expect(outcome.state).toBe('confirmed');
      expect(await seenWhileDown).toEqual({ online: false, errorCode: 'RELAY_UNREACHABLE', lastError: 'offline, waiting for the relay' });
      expect(changes).toEqual([false, true]);
      expect(progress.some((p) => p.reason?.code === 'RELAY_UNREACHABLE' && p.reason.message === OFFLINE_REASON.message)).toBe(true);
      // A request that failed in the instant the link came back may count once; the outage did not.
      expect(e.jobs.find(jobId)!.attempts).toBeLessThan(2);
      expect(e.jobs.find(jobId)).toMatchObject({ state: 'confirmed', errorCode: null });
      expect(await inOrthanc(study)).toBe(3);
    } finally {
      await proxy.stop();
    }
  });

  it('waits out an outage that starts mid-upload, then sends the rest', async () => {
    const study = await importStudy('offline-mid', 6, 256);
    const proxy = await CuttingProxy.start(Number(new URL(relay.url).port));
    try {
      const client = new RelayClient({ baseUrl: proxy.url, requestTimeoutMs: 2_000 });
      const put = client.putChunk.bind(client);
      let chunks = 0;
      client.putChunk = async (...args: Parameters<RelayClient['putChunk']>) => {
        if (++chunks === 4) {
          proxy.setDown(true);
          setTimeout(() => proxy.setDown(false), 1_000);
        }
        return put(...args);
      };
      const connectivity = new ConnectivityMonitor({ probe: () => client.isLive(500), backoffBaseMs: 50, backoffMaxMs: 200 });
      const changes: boolean[] = [];
      connectivity.on('change', (online) => changes.push(online));
      const e = engine({ client, connectivity, maxAttempts: 2 });
      const jobId = e.enqueue(study.studyInstanceUid, 'ROUTINE');
      expect((await e.run(jobId)).state).toBe('confirmed');
      expect(changes).toEqual([false, true]);
      expect(e.jobs.find(jobId)!.attempts).toBeLessThan(2);
      expect(await inOrthanc(study)).toBe(6);
    } finally {
      await proxy.stop();
    }
  });

  it('gives a job waiting for the relay back to the queue when the engine closes', async () => {
    const study = await importStudy('offline-closed', 1);
    const client = new RelayClient({ baseUrl: 'http://127.0.0.1:9', requestTimeoutMs: 500 });
    const connectivity = new ConnectivityMonitor({ probe: () => client.isLive(200), backoffBaseMs: 50, backoffMaxMs: 100 });
    const e = engine({ client, connectivity, maxAttempts: 1 });
    const jobId = e.enqueue(study.studyInstanceUid, 'ROUTINE');
    setTimeout(() => e.close(), 500);
    expect(await e.run(jobId)).toMatchObject({ state: 'queued', error: OFFLINE_REASON });
    expect(e.jobs.find(jobId)).toMatchObject({ attempts: 0, errorCode: 'RELAY_UNREACHABLE' });
    expect(connectivity.online).toBe(false);
  });
});
