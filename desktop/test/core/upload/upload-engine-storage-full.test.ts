// A relay low on disk space: it answers 507 with a Retry-After of 300 s (no delivery is freeing
// space), and the engine goes again as soon as GET /readyz turns ready rather than after the whole
// wait; closing the engine ends the wait. The real relay (in-process, real HTTP, real SQLite)
// forwarding to a real Orthanc; its free-space floor is raised and lowered as an administrator
// freeing disk would make it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelayClient } from '../../../src/core/upload/relay-client.js';
import { UploadEngine } from '../../../src/core/upload/upload-engine.js';
import { startEngineWorld, type EngineWorld } from './engine-test-world.js';

let world: EngineWorld;
beforeAll(async () => {
  world = await startEngineWorld('relaypacs-engine-full-');
});
afterAll(async () => {
  await world?.close();
});

/** The relay's free-space floor, shared with its running services: above the disk's free space, every new upload gets 507 and /readyz 503. */
function diskFull(full: boolean): void {
  world.relay.services.config.upload.minFreeDiskBytes = full ? Number.MAX_SAFE_INTEGER : 0;
}

function engine(): UploadEngine {
  return new UploadEngine({
    db: world.db, client: new RelayClient({ baseUrl: world.relay.url, requestTimeoutMs: 5_000 }), accessToken: async () => world.token,
    pollIntervalMs: 100, backoffBaseMs: 50, backoffMaxMs: 200, readyPollMs: 250,
  });
}

describe('a relay low on disk space', () => {
  it('is retried as soon as /readyz turns ready, not after its Retry-After of 300 s', async () => {
    const study = await world.importStudy('full-then-freed', 3);
    diskFull(true);
    // A new upload would not be admitted (the engine, not admitted yet, asks with its study's size).
    const refused = await fetch(`${world.relay.url}/readyz?bytes=1`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('300');
    const e = engine();
    const jobId = e.enqueue(study.studyInstanceUid, 'ROUTINE');
    const outcome = e.run(jobId);
    // The job waits, saying why in the relay's words.
    await expect.poll(() => e.jobs.find(jobId)?.errorCode, { timeout: 5_000 }).toBe('STORAGE_FULL');
    expect(e.jobs.find(jobId)?.lastError).toMatch(/low on disk space/);
    const freedAt = performance.now();
    diskFull(false);
    const done = await Promise.race([outcome, new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), 20_000))]);
    expect(done).not.toBe('still waiting');
    expect(done).toMatchObject({ state: expect.stringMatching(/^(delivered|confirmed)$/) });
    expect(performance.now() - freedAt).toBeLessThan(15_000);
    e.close();
  });

  it('stops waiting when the engine is closed', async () => {
    const study = await world.importStudy('full-then-closed', 1);
    diskFull(true);
    try {
      const e = engine();
      const jobId = e.enqueue(study.studyInstanceUid, 'ROUTINE');
      const outcome = e.run(jobId);
      await expect.poll(() => e.jobs.find(jobId)?.errorCode, { timeout: 5_000 }).toBe('STORAGE_FULL');
      const closedAt = performance.now();
      e.close();
      expect(await outcome).toMatchObject({ state: 'queued', error: { code: 'STORAGE_FULL' } });
      expect(performance.now() - closedAt).toBeLessThan(2_000);
    } finally {
      diskFull(false);
    }
  });
});
