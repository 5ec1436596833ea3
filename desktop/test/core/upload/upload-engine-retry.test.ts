// Retrying a failed job: a study a PACS did not take after the relay accepted it is re-delivered by
// the relay (POST /upload/{id}/retry), not sent again; other failures run again. The real relay
// (in-process, real HTTP, real SQLite) gives a delivery up after two attempts and forwards to a real
// Orthanc that the test stops (as a PACS down for maintenance) and starts again.
import { rename } from 'node:fs/promises';
import type { OrthancServer } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestRelay } from '../../../../server/test/support/test-relay.js';
import type { CatalogDatabase } from '../../../src/core/catalog/catalog-database.js';
import { RelayClient, RelayRequestError } from '../../../src/core/upload/relay-client.js';
import { UploadEngine } from '../../../src/core/upload/upload-engine.js';
import { startEngineWorld, type EngineWorld } from './engine-test-world.js';

let world: EngineWorld;
let orthanc: OrthancServer;
let relay: TestRelay;
let db: CatalogDatabase;
let token: string;

beforeAll(async () => {
  world = await startEngineWorld('relaypacs-engine-retry-', { delivery: { maxAttempts: 2 } });
  ({ orthanc, relay, db, token } = world);
});
afterAll(async () => {
  await world?.close();
});

/** A client that counts the protocol calls it makes. */
function countingClient(baseUrl = relay.url) {
  const client = new RelayClient({ baseUrl, requestTimeoutMs: 2_000 });
  const calls = { initUpload: 0, putChunk: 0, complete: 0, retry: 0 };
  for (const name of Object.keys(calls) as (keyof typeof calls)[]) {
    const real = (client[name] as (...args: unknown[]) => Promise<unknown>).bind(client);
    (client as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      calls[name]++;
      return real(...args);
    };
  }
  return { client, calls };
}

function engine(client: RelayClient): UploadEngine {
  return new UploadEngine({ db, client, accessToken: async () => token, maxAttempts: 3, pollIntervalMs: 100, backoffBaseMs: 50, backoffMaxMs: 200 });
}

/** What the relay holds of a study: its uploads and the chunks it acknowledged. */
function relayRecord(studyInstanceUid: string): { uploads: number; chunks: number; bytes: number } {
  return relay.db.prepare(`SELECT COUNT(DISTINCT u.id) AS uploads, COUNT(c.upload_id) AS chunks, COALESCE(SUM(c.length), 0) AS bytes
    FROM uploads u LEFT JOIN upload_chunks c ON c.upload_id = u.id WHERE u.study_instance_uid = ?`).get(studyInstanceUid) as { uploads: number; chunks: number; bytes: number };
}

const inOrthanc = async (study: { instances: { sopInstanceUid: string }[] }) =>
  (await orthanc.listInstances()).filter((i) => study.instances.some((s) => s.sopInstanceUid === i.sopInstanceUid)).map((i) => i.sopInstanceUid);

describe('retrying a failed job', () => {
  it('re-delivers a study the PACS did not take through the relay, sending nothing again, until Orthanc has every instance once', async () => {
    const study = await world.importStudy('pacs-down', 4);
    const { client, calls } = countingClient();
    const e = engine(client);
    const jobId = e.enqueue(study.studyInstanceUid, 'ROUTINE');
    await orthanc.pause();
    let failed;
    try {
      failed = await e.run(jobId);
    } finally {
      await orthanc.resume();
    }
    // The relay accepted it and gave each delivery up after two attempts: the job failed.
    expect(failed).toMatchObject({ state: 'failed' });
    expect(e.jobs.find(jobId)).toMatchObject({ state: 'failed', errorCode: 'PACS_REJECTED' });
    expect(failed.instances).toEqual(study.instances.map(() => ({ sopInstanceUid: expect.any(String), state: 'failed', reason: expect.stringMatching(/^gave up after 2 attempts: /) })));
    expect(await inOrthanc(study)).toEqual([]);
    const before = relayRecord(study.studyInstanceUid);
    expect(before).toEqual({ uploads: 1, chunks: expect.any(Number), bytes: study.totalBytes });
    const sentBefore = { ...calls };

    expect(await e.retry(jobId)).toBe(true);
    // Queued again on the relay, and followed from there.
    expect(e.jobs.find(jobId)).toMatchObject({ state: 'forwarding', errorCode: null });
    const outcome = await e.run(jobId);
    expect(outcome.state, JSON.stringify(outcome)).toBe('confirmed');
    expect(outcome.instances.map((i) => i.state)).toEqual(Array(4).fill('confirmed'));
    // The relay's retry was used; no chunk, no /complete and no second upload: init only found the upload for a token.
    expect(calls.retry - sentBefore.retry).toBe(1);
    expect(calls.putChunk - sentBefore.putChunk).toBe(0);
    expect(calls.complete - sentBefore.complete).toBe(0);
    expect(relayRecord(study.studyInstanceUid)).toEqual(before);
    const held = await inOrthanc(study);
    expect(held.sort()).toEqual(study.instances.map((i) => i.sopInstanceUid).sort());
  });

  it('runs a job that failed before the relay accepted it again from the start, as before', async () => {
    const study = await world.importStudy('moved-away', 2);
    const path = study.instances[0]!.path;
    await rename(path, `${path}.away`);
    const { client, calls } = countingClient();
    const e = engine(client);
    const jobId = e.enqueue(study.studyInstanceUid, 'ROUTINE');
    expect(await e.run(jobId)).toMatchObject({ state: 'failed', error: { code: 'FILE_UNREADABLE' } });
    await rename(`${path}.away`, path);
    expect(await e.retry(jobId)).toBe(true);
    expect(e.jobs.find(jobId)).toMatchObject({ state: 'queued', errorCode: null });
    expect((await e.run(jobId)).state).toBe('confirmed');
    expect(calls.retry).toBe(0);
    expect((await inOrthanc(study)).length).toBe(2);
    // Only failed (or cancelled) jobs are retried.
    expect(await e.retry(jobId)).toBe(false);
  });

  it('leaves the job failed, saying why, when the relay cannot be reached for the retry', async () => {
    const study = await world.importStudy('retry-offline', 1);
    const e = engine(countingClient().client);
    const jobId = e.enqueue(study.studyInstanceUid, 'ROUTINE');
    await orthanc.pause();
    try {
      expect((await e.run(jobId)).state).toBe('failed');
    } finally {
      await orthanc.resume();
    }
    const offline = engine(new RelayClient({ baseUrl: 'http://127.0.0.1:9', requestTimeoutMs: 500 }));
    await expect(offline.retry(jobId)).rejects.toBeInstanceOf(RelayRequestError);
    expect(offline.jobs.find(jobId)).toMatchObject({ state: 'failed', errorCode: 'PACS_REJECTED' });
    // Once it answers, the retry goes through.
    expect(await e.retry(jobId)).toBe(true);
    expect((await e.run(jobId)).state).toBe('confirmed');
  });
});
