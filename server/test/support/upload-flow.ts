// Drives a whole upload through the protocol for tests of what happens after it.
import { readFile } from 'node:fs/promises';
import type { GeneratedStudy } from '@relaypacs/testkit';
import type { InitUploadRequest, UploadStatus } from '../../src/protocol/upload-protocol.js';
import type { TestRelay } from './test-relay.js';
import { manifestFor, TestUploadClient } from './upload-client.js';

export interface SentStudy {
  uploadId: string;
  uploadToken: string;
  status: UploadStatus;
}

/** Uploads and completes a generated study as a new user with an uploader role. */
export async function sendStudy(relay: TestRelay, study: GeneratedStudy, studyFields: Partial<InitUploadRequest['study']> = {}, token?: string): Promise<SentStudy> {
  const client = new TestUploadClient(relay.url);
  const accessToken = token ?? await relay.tokenFor('radiographer');
  const init = await client.init(accessToken, {
    study: { studyInstanceUid: study.studyInstanceUid, serviceLevel: 'ROUTINE', modality: study.modality, ...studyFields },
    instances: await manifestFor(study.instances.map((i) => i.path), study.instances.map((i) => i.sopInstanceUid), study.instances.map((i) => i.sopClassUid)),
  });
  if (init.status !== 201) throw new Error(`init answered ${init.status}: ${JSON.stringify(init.body)}`);
  const { uploadId, uploadToken } = init.body;
  for (const [index, instance] of study.instances.entries()) {
    await client.sendFile(uploadId, uploadToken, index, await readFile(instance.path), 64 * 1024);
  }
  const complete = await client.request('POST', `/upload/${uploadId}/complete`, uploadToken);
  if (complete.status !== 200) throw new Error(`complete answered ${complete.status}: ${JSON.stringify(complete.body)}`);
  return { uploadId, uploadToken, status: complete.body as unknown as UploadStatus };
}

/** Polls the upload's status until `done` says so (or the time runs out). */
export async function waitForStatus(relay: TestRelay, sent: SentStudy, done: (status: UploadStatus) => boolean, timeoutMs = 30_000): Promise<UploadStatus> {
  const client = new TestUploadClient(relay.url);
  const deadline = Date.now() + timeoutMs;
  let status: UploadStatus | undefined;
  while (Date.now() < deadline) {
    status = (await client.request('GET', `/upload/${sent.uploadId}/status`, sent.uploadToken)).body as unknown as UploadStatus;
    if (done(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`upload ${sent.uploadId} did not get there in ${timeoutMs} ms: ${JSON.stringify(status?.deliveries)}`);
}

export const allDelivered = (status: UploadStatus): boolean =>
  status.deliveries.length > 0 && status.deliveries.every((d) => d.state === 'delivered' || d.state === 'confirmed');
