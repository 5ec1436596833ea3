// "Retry all" written once (queue-actions) for the desktop and the CLI: which jobs it touches, and that a
// job waiting out a back-off goes at once. The real relay (in-process, real HTTP, real SQLite) and Orthanc.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogDatabase } from '../../../src/core/catalog/catalog-database.js';
import { applyToAll, isRetryAllTarget, jobsForAll } from '../../../src/core/upload/queue-actions.js';
import { RelayClient, RelayRequestError } from '../../../src/core/upload/relay-client.js';
import { OFFLINE_REASON, UploadEngine } from '../../../src/core/upload/upload-engine.js';
import type { JobState } from '../../../src/core/upload/upload-jobs-repository.js';
import { startEngineWorld, type EngineWorld } from './engine-test-world.js';

let world: EngineWorld;
let db: CatalogDatabase;

beforeAll(async () => {
  world = await startEngineWorld('relaypacs-queue-actions-');
  ({ db } = world);
});
afterAll(async () => {
  await world?.close();
});

const engineWith = (client: RelayClient, backoffBaseMs = 50) =>
  new UploadEngine({ db, client, accessToken: async () => world.token, pollIntervalMs: 100, backoffBaseMs, backoffMaxMs: backoffBaseMs });

describe('retry all', () => {
  it('retries failed jobs and jobs backing off, and nothing delivered, confirmed, cancelled, paused, accepted or held', async () => {
    const e = engineWith(new RelayClient({ baseUrl: world.relay.url }));
    const failedAttempt = { code: 'HTTP_503', message: 'the relay is busy' };
    const made: Record<string, number> = {};
    const job = (name: string, state: JobState, error?: { code: string; message: string }, attempt?: { code: string; message: string }) => {
      const id = e.enqueue(`1.2.826.0.1.3680043.99.${Object.keys(made).length + 1}`, 'ROUTINE');
      e.jobs.setState(id, state, error === undefined ? {} : { error });
      if (attempt) e.jobs.countAttempt(id, attempt);
      made[name] = id;
    };
    job('failed', 'failed', { code: 'INVALID_DICOM', message: 'refused' });
    job('backing off', 'queued', undefined, failedAttempt);
    job('backing off mid-upload', 'uploading', undefined, failedAttempt);
    job('queued', 'queued');
    job('uploading', 'uploading');
    job('waiting for its window', 'queued', { code: 'WAITING_FOR_WINDOW', message: 'routine studies are sent 19:00-07:00' });
    job('waiting for the relay', 'queued', OFFLINE_REASON);
    job('completing', 'completing');
    job('forwarding', 'forwarding');
    job('delivered', 'delivered');
    job('confirmed', 'confirmed');
    job('cancelled', 'cancelled');
    job('paused after failing', 'paused', undefined, failedAttempt);

    const wanted = [made['failed'], made['backing off'], made['backing off mid-upload']].sort();
    expect(jobsForAll(e, 'retry').sort()).toEqual(wanted);
    expect(e.jobs.all().filter(isRetryAllTarget).map((j) => j.id).sort()).toEqual(wanted);

    const { changed, firstError } = await applyToAll(e, db, 'retry');
    expect(firstError).toBeUndefined();
    expect(changed.sort()).toEqual(wanted);
    // Retried: queued again (the failed one), or its error cleared to go now (those backing off), keeping their state.
    expect(e.jobs.find(made['failed']!)).toMatchObject({ state: 'queued', errorCode: null, lastError: null });
    expect(e.jobs.find(made['backing off']!)).toMatchObject({ state: 'queued', errorCode: null });
    expect(e.jobs.find(made['backing off mid-upload']!)).toMatchObject({ state: 'uploading', errorCode: null });
    // Untouched.
    for (const name of ['delivered', 'confirmed', 'cancelled', 'paused after failing', 'completing', 'forwarding', 'waiting for its window']) {
      expect(e.jobs.find(made[name]!)!.state, name).toBe(name === 'paused after failing' ? 'paused' : name === 'waiting for its window' ? 'queued' : name);
    }
    expect(e.jobs.find(made['waiting for its window']!)!.errorCode).toBe('WAITING_FOR_WINDOW');
    expect(e.jobs.find(made['paused after failing']!)!.errorCode).toBe('HTTP_503');
    for (const id of Object.values(made)) e.jobs.setState(id, 'cancelled');
  });

  it('sends a job waiting out a long back-off at once when retried', async () => {
    const study = await world.importStudy('backing-off', 2);
    const client = new RelayClient({ baseUrl: world.relay.url, requestTimeoutMs: 2_000 });
    // The first init fails as a relay behind a broken proxy would (502: no readiness polling cuts the wait
    // short, unlike 503 and 507); the back-off after it is an hour.
    const realInit = client.initUpload.bind(client);
    let inits = 0;
    client.initUpload = async (...args: Parameters<RelayClient['initUpload']>) => {
      if (inits++ === 0) throw new RelayRequestError('bad gateway', 502, undefined, undefined, true);
      return realInit(...args);
    };
    const e = engineWith(client, 3_600_000);
    const jobId = e.enqueue(study.studyInstanceUid, 'STAT');
    const run = e.run(jobId);
    await expect.poll(() => e.jobs.find(jobId)!.attempts, { timeout: 10_000, interval: 20 }).toBe(1);
    expect(jobsForAll(e, 'retry')).toEqual([jobId]);
    expect((await applyToAll(e, db, 'retry')).changed).toEqual([jobId]);
    const outcome = await Promise.race([run, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 20_000))]);
    expect(outcome).toMatchObject({ state: expect.stringMatching(/delivered|confirmed/) });
  }, 30_000);
});
