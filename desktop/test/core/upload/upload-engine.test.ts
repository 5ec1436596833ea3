// The upload engine against the real relay (in-process, real HTTP, real SQLite) forwarding to a
// real Orthanc.
import { CuttingProxy, type OrthancServer } from '@relaypacs/testkit';
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
  world = await startEngineWorld('relaypacs-engine-');
  ({ orthanc, relay, db, token } = world);
});
afterAll(async () => {
  await world?.close();
});

const importStudy = (name: string, instances: number, size?: number) => world.importStudy(name, instances, size);

/** `maxAttempts` bounds engines a test abandons, so none keeps retrying after its test. */
function engine(client = new RelayClient({ baseUrl: relay.url }), maxAttempts = 0): UploadEngine {
  return new UploadEngine({ db, client, accessToken: async () => token, maxAttempts, sourceWorkstation: 'TEST-WS', pollIntervalMs: 100, backoffBaseMs: 50, backoffMaxMs: 200, onProgress: (p) => process.env.DEBUG_ENGINE && console.log('PROGRESS', JSON.stringify(p)) });
}

describe('upload engine', () => {
  it('sends a study and follows it until Orthanc confirms every instance, each stored once', async () => {
    const study = await importStudy('a', 6);
    const e = engine();
    const jobId = e.enqueue(study.studyInstanceUid, 'STAT', 'fall, query fracture');
    const outcome = await e.run(jobId);
    expect(outcome).toMatchObject({ state: 'confirmed', studyInstanceUid: study.studyInstanceUid });
    expect(outcome.instances.map((i) => i.state)).toEqual(Array(6).fill('confirmed'));
    const held = (await orthanc.listInstances()).filter((i) => study.instances.some((s) => s.sopInstanceUid === i.sopInstanceUid));
    expect(held).toHaveLength(6);
    // The clinical history and service level travelled with the study.
    const upload = relay.db.prepare('SELECT service_level, clinical_history, source_workstation FROM uploads WHERE id = ?').get(outcome.uploadId) as Record<string, string>;
    expect(upload).toEqual({ service_level: 'STAT', clinical_history: 'fall, query fracture', source_workstation: 'TEST-WS' });
  });

  it('holds at most maxBytesInFlight of chunks in memory: chunks are cut to it divided by the chunks in flight', async () => {
    const largestChunk = (uploadId: string) => (relay.db.prepare('SELECT MAX(length) AS n FROM upload_chunks WHERE upload_id = ?').get(uploadId) as { n: number }).n;
    const free = await importStudy('memory-free', 2, 512);
    const unbounded = engine();
    const freeOutcome = await unbounded.run(unbounded.enqueue(free.studyInstanceUid, 'ROUTINE'));
    // Unbounded, chunks grow after successes to the relay's 256 KiB maximum.
    expect(largestChunk(freeOutcome.uploadId!)).toBeGreaterThan(8 * 1024);
    const capped = await importStudy('memory-capped', 2, 512);
    const e = new UploadEngine({ db, client: new RelayClient({ baseUrl: relay.url }), accessToken: async () => token, maxBytesInFlight: 32 * 1024, pollIntervalMs: 100 });
    const outcome = await e.run(e.enqueue(capped.studyInstanceUid, 'ROUTINE'));
    expect(outcome.state).toBe('confirmed');
    expect(largestChunk(outcome.uploadId!)).toBeLessThanOrEqual(8 * 1024);
  });

  it('resumes after the agent died mid-upload without sending held bytes again', async () => {
    const study = await importStudy('b', 4);
    // First life: the connection dies after a few chunks (a crashing agent).
    let chunks = 0;
    const dying = new RelayClient({ baseUrl: relay.url });
    const realPut = dying.putChunk.bind(dying);
    dying.putChunk = async (...args: Parameters<RelayClient['putChunk']>) => {
      if (++chunks > 5) throw new Error('agent killed');
      return realPut(...args);
    };
    const first = engine(dying, 3);
    const jobId = first.enqueue(study.studyInstanceUid, 'ROUTINE');
    // It gives up after three attempts, leaving the job queued with the upload half sent.
    expect(await first.run(jobId)).toMatchObject({ state: 'queued' });
    // Second life: a fresh engine on the same catalog picks the job up.
    let resentBytes = 0;
    const counting = new RelayClient({ baseUrl: relay.url });
    const countingPut = counting.putChunk.bind(counting);
    counting.putChunk = async (uploadId, uploadToken, instance, offset, bytes, options) => {
      resentBytes += bytes.length;
      return countingPut(uploadId, uploadToken, instance, offset, bytes, options);
    };
    const outcome = await engine(counting).run(jobId);
    expect(outcome.state).toBe('confirmed');
    const total = study.instances.reduce((sum, i) => sum + i.size, 0);
    expect(resentBytes).toBeLessThan(total);
    expect((await orthanc.listInstances()).filter((i) => study.instances.some((s) => s.sopInstanceUid === i.sopInstanceUid))).toHaveLength(4);
  });

  it('sends nothing when the same study is sent again: the relay finds the accepted upload', async () => {
    const study = await importStudy('c', 2);
    const e = engine();
    await e.run(e.enqueue(study.studyInstanceUid, 'ROUTINE'));
    let sent = 0;
    const client = new RelayClient({ baseUrl: relay.url });
    const put = client.putChunk.bind(client);
    client.putChunk = async (...args: Parameters<RelayClient['putChunk']>) => {
      sent++;
      return put(...args);
    };
    const again = engine(client);
    const outcome = await again.run(again.enqueue(study.studyInstanceUid, 'ROUTINE'));
    expect(sent).toBe(0);
    expect(outcome.uploadId).toBe(e.jobs.all().find((j) => j.studyInstanceUid === study.studyInstanceUid && j.relayUploadId)!.relayUploadId);
    expect(outcome.instances.map((i) => i.state)).toEqual(['confirmed', 'confirmed']);
  });

  it('fails a job permanently with the reason when the account may not upload', async () => {
    const study = await importStudy('d', 1);
    const radiologist = await relay.tokenFor('radiologist');
    const e = new UploadEngine({ db, client: new RelayClient({ baseUrl: relay.url }), accessToken: async () => radiologist, backoffBaseMs: 10 });
    const outcome = await e.run(e.enqueue(study.studyInstanceUid, 'ROUTINE'));
    expect(outcome).toMatchObject({ state: 'failed', error: { code: 'AUTH_FORBIDDEN' } });
  });

  it('fails a job with the relay\'s reason when the sign-in cannot be refreshed, rather than retrying for ever', async () => {
    const study = await importStudy('signed-out', 1);
    const refused = new RelayRequestError('This refresh token was already used, so the session has been ended for safety; sign in again.', 401, 'AUTH_TOKEN_INVALID', undefined, false);
    const e = new UploadEngine({ db, client: new RelayClient({ baseUrl: relay.url }), accessToken: () => Promise.reject(refused), backoffBaseMs: 10 });
    const outcome = await e.run(e.enqueue(study.studyInstanceUid, 'ROUTINE'));
    expect(outcome).toMatchObject({ state: 'failed', error: { code: 'AUTH_TOKEN_INVALID', message: expect.stringMatching(/sign in again/) as unknown } });
  });

  it('keeps retrying while the relay is unreachable, then gives the job back to the queue', async () => {
    const study = await importStudy('e', 1);
    const e = new UploadEngine({ db, client: new RelayClient({ baseUrl: 'http://127.0.0.1:9', requestTimeoutMs: 500 }), accessToken: async () => token, maxAttempts: 3, backoffBaseMs: 10, backoffMaxMs: 20 });
    const jobId = e.enqueue(study.studyInstanceUid, 'ROUTINE');
    const outcome = await e.run(jobId);
    expect(outcome).toMatchObject({ state: 'queued', error: { code: 'RELAY_UNREACHABLE' } });
    expect(e.jobs.find(jobId)).toMatchObject({ state: 'queued', attempts: 3 });
  });

  it('finishes through a link that keeps dropping connections, each instance stored once', async () => {
    const study = await importStudy('flaky', 16);
    const proxy = await CuttingProxy.start(Number(new URL(relay.url).port));
    let cuts = 0;
    // Often enough that a fast relay still sees several uploads cut short.
    const cutter = setInterval(() => { cuts += proxy.cutAll() > 0 ? 1 : 0; }, 15);
    try {
      const e = engine(new RelayClient({ baseUrl: proxy.url, requestTimeoutMs: 5_000 }));
      const outcome = await e.run(e.enqueue(study.studyInstanceUid, 'ROUTINE'));
      expect(outcome.state, JSON.stringify(outcome)).toBe('confirmed');
    } finally {
      clearInterval(cutter);
      await proxy.stop();
    }
    expect(cuts).toBeGreaterThan(3);
    const held = (await orthanc.listInstances()).filter((i) => study.instances.some((s) => s.sopInstanceUid === i.sopInstanceUid));
    expect(held).toHaveLength(16);
  });

  it('waits out a link that is down, then resumes', async () => {
    const study = await importStudy('outage', 3);
    const proxy = await CuttingProxy.start(Number(new URL(relay.url).port));
    proxy.setDown(true);
    setTimeout(() => proxy.setDown(false), 1500);
    try {
      const e = engine(new RelayClient({ baseUrl: proxy.url, requestTimeoutMs: 2_000 }));
      const jobId = e.enqueue(study.studyInstanceUid, 'STAT');
      const outcome = await e.run(jobId);
      expect(outcome.state).toBe('confirmed');
      expect(e.jobs.find(jobId)!.attempts).toBeGreaterThan(0);
    } finally {
      await proxy.stop();
    }
  });

  it('pauses, resumes and cancels jobs; cancelling frees what the relay holds', async () => {
    const study = await importStudy('held', 2);
    const e = engine();
    const jobId = e.enqueue(study.studyInstanceUid, 'ROUTINE');
    expect(e.pause(jobId)).toBe(true);
    expect((await e.run(jobId)).state).toBe('paused');
    expect(e.resume(jobId)).toBe(true);
    expect(e.jobs.find(jobId)!.state).toBe('queued');
    // Half-send it (the connection dies), then cancel: the relay drops the upload.
    const dying = new RelayClient({ baseUrl: relay.url });
    const put = dying.putChunk.bind(dying);
    let chunks = 0;
    dying.putChunk = async (...args: Parameters<RelayClient['putChunk']>) => {
      if (++chunks > 1) throw new Error('agent killed');
      return put(...args);
    };
    expect(await engine(dying, 2).run(jobId)).toMatchObject({ state: 'queued' });
    const uploadId = e.jobs.find(jobId)!.relayUploadId!;
    expect(await e.cancel(jobId)).toBe(true);
    expect(e.jobs.find(jobId)!.state).toBe('cancelled');
    expect((await relay.services.uploads.status(uploadId)).state).toBe('cancelled');
    expect(e.pause(jobId)).toBe(false);
  });
});
