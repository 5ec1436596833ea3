// Relays sharing one PostgreSQL and one S3 bucket (Swift's s3api) form one service: any request may
// reach any of them. Real engines, started here on loopback; the relays run in this process.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { generateStudy, PostgresServer, SwiftS3Server } from '@relaypacs/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { UploadStatus } from '../../src/protocol/upload-protocol.js';
import { startTestRelay, type TestRelay } from '../support/test-relay.js';
import { allDelivered, sendStudy, waitForStatus } from '../support/upload-flow.js';
import { halfSentChunk, manifestFor, sha256, TestUploadClient } from '../support/upload-client.js';

const BUCKET = 'relaypacs-scale';
let postgres: PostgresServer;
let swift: SwiftS3Server;
let workDir: string;
const relays: TestRelay[] = [];
const savedEnv = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

beforeAll(async () => {
  [postgres, swift] = await Promise.all([PostgresServer.start(), SwiftS3Server.start()]);
  await swift.createBucket(BUCKET);
  // The relays take their credentials as IT gives them: the SDK's standard variables.
  process.env.AWS_ACCESS_KEY_ID = swift.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = swift.secretAccessKey;
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-scale-'));
}, 60_000);
afterEach(async () => {
  for (const relay of relays.splice(0)) await relay.close();
});
afterAll(async () => {
  process.env.AWS_ACCESS_KEY_ID = savedEnv.id;
  process.env.AWS_SECRET_ACCESS_KEY = savedEnv.secret;
  await Promise.allSettled([postgres?.stop(), swift?.stop()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A relay on the shared engines: its own data directory (logs, name), the same two URLs. */
async function sharedRelay(prefix: string, delivered: string, options: { deliver?: boolean; pollMilliseconds?: number } = {}): Promise<TestRelay> {
  const relay = await startTestRelay({
    databaseUrl: postgres.url,
    storageUrl: `s3://${BUCKET}/${prefix}?endpoint=${encodeURIComponent(swift.endpoint)}&region=${swift.region}&forcePathStyle=true`,
    destinations: [{ name: 'archive', kind: 'folder', directory: delivered }],
    upload: { minFreeDiskBytes: 0 },
    ...(options.pollMilliseconds === undefined ? {} : { events: { pollMilliseconds: options.pollMilliseconds } }),
  }, { deliver: options.deliver ?? true, realTime: true });
  relays.push(relay);
  return relay;
}

async function objectsUnder(prefix: string): Promise<string[]> {
  const page = await (await swift.client()).send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (page.Contents ?? []).map((item) => item.Key!);
}

describe('relays sharing PostgreSQL and an S3 bucket', () => {
  it('take one upload between them, chunk by chunk, deliver each instance once, byte-identical, and leave no object behind', async () => {
    const delivered = join(workDir, 'delivered-1');
    const [a, b] = [await sharedRelay('site-1', delivered), await sharedRelay('site-1', delivered)];
    // The backends the URLs name, not the embedded defaults.
    expect([a.services.store.constructor.name, a.services.storage.constructor.name]).toEqual(['PostgresRelayStore', 'S3TemporaryStorage']);
    const study = await generateStudy(join(workDir, 'study-1'), { instances: 6, rows: 64, columns: 64 });
    const token = await a.tokenFor('radiographer');
    const viaA = new TestUploadClient(a.url);
    const viaB = new TestUploadClient(b.url);
    const init = await viaA.init(token, {
      study: { studyInstanceUid: study.studyInstanceUid, serviceLevel: 'ROUTINE', modality: study.modality },
      instances: await manifestFor(study.instances.map((i) => i.path), study.instances.map((i) => i.sopInstanceUid), study.instances[0]!.sopClassUid),
    });
    expect(init.status).toBe(201);
    const { uploadId, uploadToken } = init.body;
    // Instances alternate between the relays, and so do the chunks of the largest: a balancer's round robin.
    for (const [index, instance] of study.instances.entries()) {
      const bytes = await readFile(instance.path);
      const half = Math.ceil(bytes.length / 2 / 1024) * 1024;
      await (index % 2 === 0 ? viaA : viaB).chunk(uploadId, uploadToken, index, 0, bytes.subarray(0, half));
      const second = await (index % 2 === 0 ? viaB : viaA).chunk(uploadId, uploadToken, index, half, bytes.subarray(half));
      expect(second.status).toBe(200);
    }
    const complete = await viaB.request('POST', `/upload/${uploadId}/complete`, uploadToken);
    expect(complete.status).toBe(200);
    const sent = { uploadId, uploadToken, status: complete.body as unknown as UploadStatus };
    const status = await waitForStatus(a, sent, allDelivered, 60_000);
    expect(status.instances.every((i) => i.state === 'verified')).toBe(true);
    // Each instance once (the folder destination writes one file per instance), byte-identical.
    const files = (await readdir(delivered, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
    expect(files).toHaveLength(study.instances.length);
    const held = new Set(await Promise.all(files.map(async (f) => sha256(await readFile(join(f.parentPath, f.name))))));
    expect(held).toEqual(new Set(await Promise.all(study.instances.map(async (i) => sha256(await readFile(i.path))))));
    // Delivered everywhere: the relay that released it deleted its objects from the bucket.
    await vi.waitFor(async () => expect(await objectsUnder(`site-1/uploads/${uploadId}/`)).toEqual([]), { timeout: 10_000 });
  });

  it('refuses a chunk whose range another relay is receiving, drops that relay\'s silent connection for the retry, never a moving one', async () => {
    const delivered = join(workDir, 'delivered-4');
    const [a, b] = [await sharedRelay('site-4', delivered), await sharedRelay('site-4', delivered)];
    const study = await generateStudy(join(workDir, 'study-4'), { instances: 1, rows: 128, columns: 128 });
    const bytes = await readFile(study.instances[0]!.path);
    const token = await a.tokenFor('radiographer', 'two-connections');
    const viaB = new TestUploadClient(b.url);
    const init = await viaB.init(token, {
      study: { studyInstanceUid: study.studyInstanceUid, serviceLevel: 'ROUTINE' },
      instances: await manifestFor([study.instances[0]!.path], [study.instances[0]!.sopInstanceUid], study.instances[0]!.sopClassUid),
    });
    const { uploadId, uploadToken } = init.body;
    const half = Math.ceil(bytes.length / 2 / 1024) * 1024;
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    /** A chunk sent to relay A: half its bytes, then a trickle (moving) or nothing (its client gave it up, its reset lost). */
    const openOnA = (offset: number, piece: Buffer, trickle: boolean) => halfSentChunk(`${a.url}/upload/${uploadId}/chunk?instance=0&offset=${offset}`, uploadToken, piece, trickle);
    const first = bytes.subarray(0, half);
    const second = bytes.subarray(half);
    const moving = openOnA(0, first, true);
    const silent = openOnA(half, second, false);
    await sleep(300);
    // The same ranges sent again through relay B, as a balancer would: busy, whichever relay holds them.
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await viaB.chunk(uploadId, uploadToken, 0, 0, first)).body).toMatchObject({ error: { code: 'UPLOAD_CHUNK_IN_PROGRESS' } });
      await sleep(1_000);
    }
    // The silent one has moved nothing for over 2 s: relay B's next try removes its claim and relay
    // A drops it; the retry after that goes through relay B. The moving one was kept throughout.
    let answer = await viaB.chunk(uploadId, uploadToken, 0, half, second);
    for (let attempt = 0; attempt < 10 && answer.status === 409; attempt++) {
      await sleep(500);
      answer = await viaB.chunk(uploadId, uploadToken, 0, half, second);
    }
    expect(answer.status).toBe(200);
    expect(await silent.outcome).toBe('dropped');
    moving.finish();
    expect(await moving.outcome).toBe('HTTP 200');
    const complete = await viaB.request('POST', `/upload/${uploadId}/complete`, uploadToken);
    expect(complete.status).toBe(200);
    await waitForStatus(a, { uploadId, uploadToken, status: complete.body as unknown as UploadStatus }, allDelivered, 30_000);
    const files = (await readdir(delivered, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
    expect(files).toHaveLength(1);
    expect(sha256(await readFile(join(files[0]!.parentPath, files[0]!.name)))).toBe(sha256(bytes));
  });

  it('wakes the other relays at once (LISTEN/NOTIFY): one that does not deliver takes a study, another delivers it, the first one\'s stream tells', async () => {
    const delivered = join(workDir, 'delivered-5');
    // Both look for other relays' events only once a minute, and a worker with nothing queued looks
    // again at most a minute later: anything sooner than that came from a signal.
    const receiving = await sharedRelay('site-5', delivered, { deliver: false, pollMilliseconds: 60_000 });
    await sharedRelay('site-5', delivered, { pollMilliseconds: 60_000 }); // the one that delivers
    await new Promise((resolve) => setTimeout(resolve, 500)); // the delivering relay's workers asleep, its LISTEN session open
    const token = await receiving.tokenFor('radiographer', 'woken');
    // The delivering relay publishes 'delivered'; the receiving relay's stream has it only once it read the other's events.
    const stream = await fetch(`${receiving.url}/events`, { headers: { authorization: `Bearer ${token}` } });
    const reader = stream.body!.getReader();
    const started = Date.now();
    const study = await generateStudy(join(workDir, 'study-5'), { instances: 2, rows: 32, columns: 32 });
    const sent = await sendStudy(receiving, study, {}, token);
    let text = '';
    while (!text.includes(`"type":"delivered","uploadId":"${sent.uploadId}"}`) && Date.now() - started < 20_000) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    expect(text).toContain(`"type":"delivered","uploadId":"${sent.uploadId}"}`);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect((await readdir(delivered, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile())).toHaveLength(2);
  });

  it('lets a relay started later replay the events of an upload it never saw', async () => {
    const delivered = join(workDir, 'delivered-2');
    const a = await sharedRelay('site-2', delivered);
    const study = await generateStudy(join(workDir, 'study-2'), { instances: 2, rows: 32, columns: 32 });
    const token = await a.tokenFor('radiographer', 'late-reader');
    const client = new TestUploadClient(a.url);
    const init = await client.init(token, {
      study: { studyInstanceUid: study.studyInstanceUid, serviceLevel: 'ROUTINE' },
      instances: await manifestFor(study.instances.map((i) => i.path), study.instances.map((i) => i.sopInstanceUid), study.instances[0]!.sopClassUid),
    });
    const { uploadId, uploadToken } = init.body;
    for (const [index, instance] of study.instances.entries()) await client.sendFile(uploadId, uploadToken, index, await readFile(instance.path), 64 * 1024);
    await client.request('POST', `/upload/${uploadId}/complete`, uploadToken);
    await waitForStatus(a, { uploadId, uploadToken, status: init.body.status }, allDelivered, 60_000);
    // A fourth relay, say, started now: it never handled the upload, and replays its events from the start.
    const late = await sharedRelay('site-2', delivered);
    const response = await fetch(`${late.url}/events`, { headers: { authorization: `Bearer ${token}`, 'last-event-id': '0' } });
    const reader = response.body!.getReader();
    let text = '';
    const deadline = Date.now() + 10_000;
    while (!text.includes(`"type":"delivered","uploadId":"${uploadId}"}`) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    const types = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(types).toEqual(expect.arrayContaining(['received', 'validated', 'accepted', 'forwarding', 'delivered']));
    expect(text).toContain(`"uploadId":"${uploadId}"`);
  });

  it('keeps working through a PostgreSQL restart: 503 while it is away, then delivery goes on by itself', async () => {
    const delivered = join(workDir, 'delivered-3');
    const relay = await sharedRelay('site-3', delivered);
    const token = await relay.tokenFor('radiographer', 'through-a-restart');
    await postgres.kill();
    try {
      // The delivery workers are woken (as a study accepted elsewhere does) and meet the missing
      // database: they must wait for it, not end. Requests are refused for now.
      relay.services.deliveries.studyAccepted('woken-while-down');
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      // Signed in, but the session cannot be checked: try again shortly (not "signed out", not a 500).
      const refused = await relay.post('/upload/init', {}, token);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect((await (await fetch(`${relay.url}/readyz`)).json()) as unknown).toMatchObject({ checks: { database: 'unavailable' } });
    } finally {
      await postgres.restart();
    }
    const study = await generateStudy(join(workDir, 'study-3'), { instances: 3, rows: 32, columns: 32 });
    const sent = await sendStudy(relay, study, {}, token);
    await waitForStatus(relay, sent, allDelivered, 20_000);
    expect((await readdir(delivered, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile())).toHaveLength(3);
  });
});
