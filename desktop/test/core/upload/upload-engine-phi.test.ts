// A file path can name a patient: a file of a patient-named folder that disappears mid-upload fails the job
// with a reason that names no part of the path. The real relay (in-process, real HTTP) and Orthanc.
import { rm, truncate } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RelayClient } from '../../../src/core/upload/relay-client.js';
import { UploadEngine } from '../../../src/core/upload/upload-engine.js';
import { startEngineWorld, type EngineWorld } from './engine-test-world.js';

let world: EngineWorld;

beforeAll(async () => {
  world = await startEngineWorld('relaypacs-engine-phi-');
});
afterAll(async () => {
  await world?.close();
});

/** Sends a study, doing `toLastFile` to its last file once the first chunk is at the relay. */
async function sendSpoilingLastFile(folder: string, toLastFile: (path: string) => Promise<void>) {
  const study = await world.importStudy(folder, 16);
  const client = new RelayClient({ baseUrl: world.relay.url, requestTimeoutMs: 5_000 });
  const e = new UploadEngine({ db: world.db, client, accessToken: async () => world.token, pollIntervalMs: 100 });
  const last = e.jobs.studyFiles(study.studyInstanceUid).at(-1)!.path;
  expect(last).toContain(folder);
  const putChunk = client.putChunk.bind(client);
  let spoiled = false;
  client.putChunk = async (...args: Parameters<RelayClient['putChunk']>) => {
    const answer = await putChunk(...args);
    if (!spoiled) {
      spoiled = true;
      await toLastFile(last);
    }
    return answer;
  };
  const jobId = e.enqueue(study.studyInstanceUid, 'STAT');
  const outcome = await e.run(jobId);
  return { outcome, job: e.jobs.find(jobId)! };
}

const PATIENT = /DOE|JANE|1970|\//;

it('fails a job whose file disappeared mid-upload with FILE_UNREADABLE and no part of the path', async () => {
  const { outcome, job } = await sendSpoilingLastFile('DOE^JANE 1970', (path) => rm(path));
  expect(outcome).toMatchObject({ state: 'failed', error: { code: 'FILE_UNREADABLE' } });
  expect(job.lastError).toBe('a file of the study can no longer be read: the file disappeared before it could be read; import the study again');
  expect(JSON.stringify(outcome)).not.toMatch(PATIENT);
});

it('fails a job whose file was cut short mid-upload with FILE_TRUNCATED and no part of the path', async () => {
  const { outcome, job } = await sendSpoilingLastFile('DOE^JANE 1970 again', (path) => truncate(path, 10));
  expect(outcome).toMatchObject({ state: 'failed', error: { code: 'FILE_TRUNCATED' } });
  expect(job.lastError).not.toMatch(PATIENT);
  expect(JSON.stringify(outcome)).not.toMatch(PATIENT);
});
