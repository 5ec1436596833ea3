import { request as httpRequest } from 'node:http';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, type GeneratedStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { InitUploadRequest, UploadStatus } from '../../src/protocol/upload-protocol.js';
import { contentDigestHeader } from '../../src/upload/content-digest.js';
import { heldInstance } from '../support/held-instance.js';
import { startTestRelay, type TestRelay } from '../support/test-relay.js';
import { halfSentChunk, manifestFor, sha256, TestUploadClient } from '../support/upload-client.js';

const CHUNK = 8192;
const CT = '1.2.840.10008.5.1.4.1.1.2';
let relay: TestRelay;
let client: TestUploadClient;
let radiographer: string;
let workDir: string;
let study: GeneratedStudy;
let files: Buffer[];

async function initStudy(token = radiographer, overrides: Partial<InitUploadRequest> = {}) {
  const body: InitUploadRequest = {
    study: { studyInstanceUid: study.studyInstanceUid, modality: 'CT', serviceLevel: 'ROUTINE', sourceWorkstation: 'CT-01' },
    instances: await manifestFor(study.instances.map((i) => i.path), study.instances.map((i) => i.sopInstanceUid), CT),
    ...overrides,
  };
  return client.init(token, body);
}

async function freshStudy(instances = 3): Promise<GeneratedStudy> {
  return generateStudy(join(workDir, `s${Math.random().toString(36).slice(2)}`), { instances, rows: 96, columns: 96, transferSyntax: 'explicit-le' });
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-upload-test-'));
  relay = await startTestRelay({ upload: { minChunkBytes: 1024, preferredChunkBytes: CHUNK, maxChunkBytes: 16384, maxActiveUploadsPerUser: 50, minFreeDiskBytes: 0 } });
  client = new TestUploadClient(relay.url);
  radiographer = await relay.tokenFor('radiographer');
});

afterAll(async () => {
  await relay?.close();
  await rm(workDir, { recursive: true, force: true });
});

describe('upload protocol over HTTP', () => {
  beforeAll(async () => {
    study = await freshStudy();
    files = await Promise.all(study.instances.map((i) => readFile(i.path)));
  });

  it('receives a study in out-of-order, parallel chunks and verifies every instance on complete', async () => {
    const init = await initStudy();
    expect(init.status).toBe(201);
    expect(init.body).toMatchObject({ resumed: false, chunk: { preferredBytes: CHUNK }, alreadyDelivered: [] });
    const { uploadId, uploadToken } = init.body;
    await Promise.all(files.map((bytes, index) => {
      const count = Math.ceil(bytes.length / CHUNK);
      const reversed = [...Array(count).keys()].reverse();
      return client.sendFile(uploadId, uploadToken, index, bytes, CHUNK, reversed);
    }));
    const complete = await client.request('POST', `/upload/${uploadId}/complete`, uploadToken);
    expect(complete.status).toBe(200);
    const status = complete.body as unknown as UploadStatus;
    expect(status.state).toBe('accepted');
    expect(status.receivedBytes).toBe(status.totalBytes);
    for (const instance of status.instances) {
      expect(instance).toMatchObject({ state: 'verified', transferSyntaxUid: '1.2.840.10008.1.2.1', missing: [] });
    }
    // What the relay holds is byte-identical to what was sent.
    for (const [index, bytes] of files.entries()) {
      expect(sha256(await heldInstance(relay.services, uploadId, index))).toBe(sha256(bytes));
    }
    // complete is idempotent
    const again = await client.request('POST', `/upload/${uploadId}/complete`, uploadToken);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ state: 'accepted' });
    // A client that lost the answer to /complete finds the same upload again through init.
    const reinit = await initStudy();
    expect(reinit.status).toBe(200);
    expect(reinit.body).toMatchObject({ uploadId, resumed: true, status: { state: 'accepted' } });
  });

  it('verifies an instance sent in order without reading its bytes again, then forgets the hash it carried', async () => {
    study = await generateStudy(join(workDir, `s${Math.random().toString(36).slice(2)}`), { instances: 1, rows: 512, columns: 512, transferSyntax: 'explicit-le' });
    files = [await readFile(study.instances[0]!.path)];
    const { uploadId, uploadToken } = (await initStudy()).body;
    const reads = vi.spyOn(relay.services.storage, 'readRange');
    const feeds = vi.spyOn(relay.services.storage, 'feedRange');
    try {
      await client.sendFile(uploadId, uploadToken, 0, files[0]!, CHUNK);
      const complete = await client.request('POST', `/upload/${uploadId}/complete`, uploadToken);
      expect(complete.body).toMatchObject({ state: 'accepted', instances: [{ state: 'verified' }] });
      // Only the header check reads (its first 64 KiB window): the checksum came with the chunks.
      const read = [...reads.mock.calls, ...feeds.mock.calls].filter(([id]) => id === uploadId).reduce((sum, [, , , start, end]) => sum + (end - start), 0);
      expect(files[0]!.length).toBeGreaterThan(8 * 64 * 1024);
      expect(read).toBeLessThanOrEqual(64 * 1024);
    } finally {
      reads.mockRestore();
      feeds.mockRestore();
    }
    const states = relay.db.prepare('SELECT COUNT(*) AS n FROM upload_chunks WHERE upload_id = ? AND sha256_state IS NOT NULL').get(uploadId) as { n: number };
    expect(states.n).toBe(0);
    expect(sha256(await heldInstance(relay.services, uploadId, 0))).toBe(sha256(files[0]!));
  });

  it('accepts the same chunk twice, refuses different bytes for it, and refuses overlapping ranges', async () => {
    study = await freshStudy(1);
    files = [await readFile(study.instances[0]!.path)];
    const { uploadId, uploadToken } = (await initStudy()).body;
    const first = files[0]!.subarray(0, CHUNK);
    expect((await client.chunk(uploadId, uploadToken, 0, 0, first)).body).toMatchObject({ duplicate: false, receivedBytes: CHUNK });
    expect((await client.chunk(uploadId, uploadToken, 0, 0, first)).body).toMatchObject({ duplicate: true, receivedBytes: CHUNK });
    const different = Buffer.from(first);
    different[10] = (different[10]! + 1) % 256;
    const conflict = await client.chunk(uploadId, uploadToken, 0, 0, different);
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ error: { code: 'UPLOAD_OFFSET_MISMATCH' } });
    // overlapping the held range from inside it
    const overlap = await client.chunk(uploadId, uploadToken, 0, CHUNK / 2, files[0]!.subarray(CHUNK / 2, CHUNK / 2 + CHUNK));
    expect(overlap.status).toBe(409);
    expect(overlap.headers.get('upload-offset')).toBe(String(CHUNK));
    expect(overlap.body).toMatchObject({ error: { code: 'UPLOAD_OFFSET_MISMATCH', contiguousBytes: CHUNK, missing: [[CHUNK, files[0]!.length]] } });
    // past the end of the instance
    const past = await client.chunk(uploadId, uploadToken, 0, files[0]!.length - 10, Buffer.alloc(20));
    expect(past.status).toBe(409);
  });

  it('keeps nothing of a chunk whose digest does not match', async () => {
    study = await freshStudy(1);
    const bytes = await readFile(study.instances[0]!.path);
    const { uploadId, uploadToken } = (await initStudy()).body;
    const bad = await client.chunk(uploadId, uploadToken, 0, 0, bytes.subarray(0, CHUNK), { digest: contentDigestHeader(sha256(Buffer.from('something else'))) });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'UPLOAD_DIGEST_MISMATCH' } });
    const status = await client.request('GET', `/upload/${uploadId}/status`, uploadToken);
    expect(status.body).toMatchObject({ receivedBytes: 0 });
    const missingDigest = await fetch(`${relay.url}/upload/${uploadId}/chunk?instance=0&offset=0`, {
      method: 'PUT', headers: { authorization: `Bearer ${uploadToken}`, 'content-type': 'application/octet-stream' }, body: bytes.subarray(0, CHUNK),
    });
    expect(missingDigest.status).toBe(400);
  });

  it('loses nothing but the dropped chunk when a connection dies mid-chunk, and resumes', async () => {
    study = await freshStudy(1);
    const bytes = await readFile(study.instances[0]!.path);
    const init = await initStudy();
    const { uploadId, uploadToken } = init.body;
    await client.chunk(uploadId, uploadToken, 0, 0, bytes.subarray(0, CHUNK));
    // Second chunk: send half its body, then cut the connection.
    const piece = bytes.subarray(CHUNK, 2 * CHUNK);
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${relay.url}/upload/${uploadId}/chunk?instance=0&offset=${CHUNK}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${uploadToken}`, 'content-type': 'application/octet-stream', 'content-length': String(piece.length), 'content-digest': contentDigestHeader(sha256(piece)) },
      });
      req.on('error', () => resolve());
      req.write(piece.subarray(0, piece.length / 2), () => setTimeout(() => { req.destroy(); resolve(); }, 100));
    });
    await new Promise((r) => setTimeout(r, 200));
    // The client restarts and only knows the study: init again resumes the same upload.
    const resumed = await initStudy();
    expect(resumed.status).toBe(200);
    expect(resumed.body.resumed).toBe(true);
    expect(resumed.body.uploadId).toBe(uploadId);
    expect(resumed.body.status.instances[0]).toMatchObject({ receivedBytes: CHUNK, contiguousBytes: CHUNK, missing: [[CHUNK, bytes.length]] });
    const head = await fetch(`${relay.url}/upload/${uploadId}/status?instance=0`, { method: 'HEAD', headers: { authorization: `Bearer ${resumed.body.uploadToken}` } });
    expect(head.headers.get('upload-offset')).toBe(String(CHUNK));
    await client.sendFile(uploadId, resumed.body.uploadToken, 0, bytes.subarray(0), CHUNK, [...Array(Math.ceil(bytes.length / CHUNK)).keys()].slice(1));
    const complete = await client.request('POST', `/upload/${uploadId}/complete`, resumed.body.uploadToken);
    expect(complete.body).toMatchObject({ state: 'accepted', instances: [{ state: 'verified' }] });
  });

  it('lets two clients send one upload at once, and refuses a range another connection is writing', async () => {
    study = await freshStudy(2);
    const all = await Promise.all(study.instances.map((i) => readFile(i.path)));
    const { uploadId, uploadToken } = (await initStudy()).body;
    const other = new TestUploadClient(relay.url);
    const bytes = all[0]!;
    const count = Math.ceil(bytes.length / CHUNK);
    // Both clients send every chunk of instance 0 at the same time: each range is written once.
    const results = await Promise.all([...Array(count).keys()].flatMap((n) => [client, other].map((c) =>
      c.chunk(uploadId, uploadToken, 0, n * CHUNK, bytes.subarray(n * CHUNK, (n + 1) * CHUNK)))));
    for (const result of results) {
      expect([200, 409]).toContain(result.status);
      if (result.status === 409) expect(result.body).toMatchObject({ error: { code: 'UPLOAD_CHUNK_IN_PROGRESS' } });
    }
    await other.sendFile(uploadId, uploadToken, 1, all[1]!, CHUNK);
    // Retry what was refused: each is now a duplicate or fills a gap.
    await client.sendFile(uploadId, uploadToken, 0, bytes, CHUNK);
    const complete = await client.request('POST', `/upload/${uploadId}/complete`, uploadToken);
    expect(complete.body).toMatchObject({ state: 'accepted', instances: [{ state: 'verified' }, { state: 'verified' }] });
  });

  it('answers copies of one init that arrive together (a client sending it again over a lossy link) with one upload', async () => {
    study = await freshStudy(2);
    const answers = await Promise.all([initStudy(), initStudy(), initStudy()]);
    expect(new Set(answers.map((a) => a.body.uploadId)).size).toBe(1);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 201]);
  });

  it('drops a connection that went silent mid-chunk when its range is sent again, so the resend goes through; never a moving one', async () => {
    study = await freshStudy(1);
    const bytes = await readFile(study.instances[0]!.path);
    const { uploadId, uploadToken } = (await initStudy()).body;
    const piece = bytes.subarray(0, CHUNK);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // A writer that sends half its chunk and then nothing, its connection left open (a client that
    // gave it up on a lossy link, its reset lost), and one that keeps trickling bytes.
    const open = (trickle: boolean) => halfSentChunk(`${relay.url}/upload/${uploadId}/chunk?instance=0&offset=0`, uploadToken, piece, trickle);

    const moving = open(true);
    await sleep(200);
    for (let i = 0; i < 4; i++) {
      expect((await client.chunk(uploadId, uploadToken, 0, 0, piece)).body).toMatchObject({ error: { code: 'UPLOAD_CHUNK_IN_PROGRESS' } });
      await sleep(1_000);
    }
    moving.finish();
    expect(await moving.outcome).toBe('HTTP 200');

    const nextPiece = bytes.subarray(CHUNK, 2 * CHUNK);
    const silent = halfSentChunk(`${relay.url}/upload/${uploadId}/chunk?instance=0&offset=${CHUNK}`, uploadToken, nextPiece, false);
    await sleep(200);
    expect((await client.chunk(uploadId, uploadToken, 0, CHUNK, nextPiece)).status).toBe(409);
    await sleep(2_200);
    // Silent for over 2 s: dropped now, and this one is told to retry...
    expect((await client.chunk(uploadId, uploadToken, 0, CHUNK, nextPiece)).body).toMatchObject({ error: { code: 'UPLOAD_CHUNK_IN_PROGRESS' } });
    expect(await silent.outcome).toBe('dropped');
    await sleep(100);
    // ...which goes through; nothing of the dropped half was kept.
    expect((await client.chunk(uploadId, uploadToken, 0, CHUNK, nextPiece)).body).toMatchObject({ duplicate: false, receivedBytes: 2 * CHUNK });
    await client.sendFile(uploadId, uploadToken, 0, bytes, CHUNK, [...Array(Math.ceil(bytes.length / CHUNK)).keys()].slice(2));
    const complete = await client.request('POST', `/upload/${uploadId}/complete`, uploadToken);
    expect(complete.body).toMatchObject({ state: 'accepted', instances: [{ state: 'verified' }] });
  });

  it('rejects malformed, non-DICOM and mismatched instances with reasons, and still accepts the rest', async () => {
    study = await freshStudy(1);
    const good = await readFile(study.instances[0]!.path);
    const text = Buffer.from('This is a radiology report, not an image.\n'.repeat(50));
    const otherStudy = await freshStudy(1);
    const foreign = await readFile(otherStudy.instances[0]!.path);
    const truncated = good.subarray(0, 200);
    const instances = [
      { sopInstanceUid: study.instances[0]!.sopInstanceUid, sopClassUid: CT, size: good.length, sha256: sha256(good) },
      { sopInstanceUid: '2.25.1001', sopClassUid: CT, size: text.length, sha256: sha256(text) },
      { sopInstanceUid: otherStudy.instances[0]!.sopInstanceUid, sopClassUid: CT, size: foreign.length, sha256: sha256(foreign) },
      { sopInstanceUid: '2.25.1003', sopClassUid: CT, size: truncated.length, sha256: sha256(truncated) },
      // manifest SHA-256 differs from the bytes sent (each chunk's own digest is right)
      { sopInstanceUid: '2.25.1004', sopClassUid: CT, size: good.length, sha256: sha256(Buffer.from('not these bytes')) },
    ];
    const { uploadId, uploadToken } = (await initStudy(radiographer, { instances })).body;
    const bodies = [good, text, foreign, truncated, good];
    for (const [index, bytes] of bodies.entries()) await client.sendFile(uploadId, uploadToken, index, bytes, CHUNK);
    const complete = await client.request('POST', `/upload/${uploadId}/complete`, uploadToken);
    expect(complete.status).toBe(200);
    const states = (complete.body as unknown as UploadStatus).instances.map((i) => [i.state, i.rejection?.code]);
    expect(states).toEqual([
      ['verified', undefined],
      ['rejected', 'NOT_PART10'],
      ['rejected', 'STUDY_UID_MISMATCH'],
      ['rejected', 'TRUNCATED'],
      ['rejected', 'CHECKSUM_MISMATCH'],
    ]);
    for (const instance of (complete.body as unknown as UploadStatus).instances.slice(1)) expect(instance.rejection!.reason.length).toBeGreaterThan(10);
    const metrics = await (await fetch(`${relay.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/relaypacs_instance_rejections_total\{reason="NOT_PART10"\} 1/);
  });

  it('refuses completion while bytes are missing, naming them', async () => {
    study = await freshStudy(1);
    const bytes = await readFile(study.instances[0]!.path);
    const { uploadId, uploadToken } = (await initStudy()).body;
    await client.chunk(uploadId, uploadToken, 0, 0, bytes.subarray(0, CHUNK));
    const complete = await client.request('POST', `/upload/${uploadId}/complete`, uploadToken);
    expect(complete.status).toBe(409);
    expect(complete.body).toMatchObject({ error: { code: 'UPLOAD_INCOMPLETE', incomplete: [{ index: 0, missing: [[CHUNK, bytes.length]] }] } });
  });

  it('cancels an upload, frees its space and takes no more chunks', async () => {
    study = await freshStudy(1);
    const bytes = await readFile(study.instances[0]!.path);
    const { uploadId, uploadToken } = (await initStudy()).body;
    await client.chunk(uploadId, uploadToken, 0, 0, bytes.subarray(0, CHUNK));
    await client.chunk(uploadId, uploadToken, 0, CHUNK, bytes.subarray(CHUNK, 2 * CHUNK));
    await stat(join(relay.dataDir, 'uploads', uploadId));
    // The hash carried from chunk to chunk (a few bytes of the instance in each state) goes with the upload.
    const carriedStates = () => (relay.db.prepare('SELECT COUNT(*) AS n FROM upload_chunks WHERE upload_id = ? AND sha256_state IS NOT NULL').get(uploadId) as { n: number }).n;
    expect(carriedStates()).toBeGreaterThan(0);
    expect((await client.request('DELETE', `/upload/${uploadId}`, uploadToken)).status).toBe(204);
    await expect(stat(join(relay.dataDir, 'uploads', uploadId))).rejects.toThrow(/ENOENT/);
    expect(carriedStates()).toBe(0);
    const late = await client.chunk(uploadId, uploadToken, 0, 2 * CHUNK, bytes.subarray(2 * CHUNK, 3 * CHUNK));
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: { code: 'UPLOAD_NOT_ACTIVE' } });
  });

  it('skips instances a PACS already holds with the same bytes', async () => {
    study = await freshStudy(2);
    const first = await readFile(study.instances[0]!.path);
    await relay.services.store.deliveries.markDelivered([{ sopInstanceUid: study.instances[0]!.sopInstanceUid, sha256: sha256(first) }], new Date().toISOString());
    const init = await initStudy();
    expect(init.body.alreadyDelivered).toEqual([study.instances[0]!.sopInstanceUid]);
    expect(init.body.status.instances[0]).toMatchObject({ state: 'already-delivered', missing: [] });
    const { uploadId, uploadToken } = init.body;
    await client.sendFile(uploadId, uploadToken, 1, await readFile(study.instances[1]!.path), CHUNK);
    const complete = await client.request('POST', `/upload/${uploadId}/complete`, uploadToken);
    expect(complete.body).toMatchObject({ state: 'accepted', instances: [{ state: 'already-delivered' }, { state: 'verified' }] });
  });

  it('makes a resumed upload STAT and gives it a missing clinical history when init asks so, never the other way', async () => {
    study = await freshStudy(1);
    const first = await initStudy();
    expect(first.status).toBe(201);
    expect(first.body.status.serviceLevel).toBe('ROUTINE');
    const record = () => relay.db.prepare('SELECT service_level, clinical_history FROM uploads WHERE id = ?').get(first.body.uploadId);
    const upgraded = await initStudy(radiographer, { study: { studyInstanceUid: study.studyInstanceUid, modality: 'CT', serviceLevel: 'STAT', clinicalHistory: 'query fracture' } });
    expect(upgraded.body).toMatchObject({ uploadId: first.body.uploadId, resumed: true, status: { serviceLevel: 'STAT' } });
    expect(record()).toEqual({ service_level: 'STAT', clinical_history: 'query fracture' });
    // Routine again, or another history: what the upload has stays.
    await initStudy(radiographer, { study: { studyInstanceUid: study.studyInstanceUid, modality: 'CT', serviceLevel: 'ROUTINE', clinicalHistory: 'something else' } });
    expect(record()).toEqual({ service_level: 'STAT', clinical_history: 'query fracture' });
  });

  it('tracks offsets past 4 GiB (instances over 4 GB)', async () => {
    const size = 5 * 1024 ** 3;
    const { body } = await client.init(radiographer, {
      study: { studyInstanceUid: '2.25.4242', serviceLevel: 'STAT' },
      instances: [{ sopInstanceUid: '2.25.4243', sopClassUid: CT, size, sha256: 'a'.repeat(64) }],
    });
    const offset = 4.5 * 1024 ** 3;
    const piece = Buffer.alloc(4096, 7);
    const result = await client.chunk(body.uploadId, body.uploadToken, 0, offset, piece);
    expect(result.status).toBe(200);
    const status = await client.request('GET', `/upload/${body.uploadId}/status`, body.uploadToken);
    expect((status.body as unknown as UploadStatus).instances[0]!.missing).toEqual([[0, offset], [offset + 4096, size]]);
    await client.request('DELETE', `/upload/${body.uploadId}`, body.uploadToken);
  });
});

describe('upload limits and refusals', () => {
  it('refuses bodies over the chunk limit, oversize instances and studies, other media types, and empty manifests', async () => {
    study = await freshStudy(1);
    const { uploadId, uploadToken } = (await initStudy()).body;
    const tooBig = await client.chunk(uploadId, uploadToken, 0, 0, Buffer.alloc(16385));
    expect(tooBig.status).toBe(413);
    expect(tooBig.body).toMatchObject({ error: { code: 'UPLOAD_TOO_LARGE', maxChunkBytes: 16384 } });
    const json = await client.chunk(uploadId, uploadToken, 0, 0, Buffer.from('{}'), { contentType: 'application/json' });
    expect(json.status).toBe(415);
    const limited = await startTestRelay({ upload: { maxInstanceBytes: 1000, maxStudyBytes: 1500, minFreeDiskBytes: 0 } });
    try {
      const token = await limited.tokenFor('clinician');
      const limitedClient = new TestUploadClient(limited.url);
      const one = { sopClassUid: CT, sha256: 'b'.repeat(64) };
      expect((await limitedClient.init(token, { study: { studyInstanceUid: '2.25.1', serviceLevel: 'ROUTINE' }, instances: [{ ...one, sopInstanceUid: '2.25.2', size: 1001 }] })).body)
        .toMatchObject({ error: { code: 'UPLOAD_TOO_LARGE', limit: 'maxInstanceBytes' } });
      expect((await limitedClient.init(token, { study: { studyInstanceUid: '2.25.1', serviceLevel: 'ROUTINE' }, instances: [{ ...one, sopInstanceUid: '2.25.2', size: 800 }, { ...one, sopInstanceUid: '2.25.3', size: 800 }] })).body)
        .toMatchObject({ error: { code: 'UPLOAD_TOO_LARGE', limit: 'maxStudyBytes' } });
      expect((await limitedClient.init(token, { study: { studyInstanceUid: '2.25.1', serviceLevel: 'ROUTINE' }, instances: [] })).status).toBe(400);
    } finally {
      await limited.close();
    }
  });

  it('limits uploads in progress per account', async () => {
    const limited = await startTestRelay({ upload: { maxActiveUploadsPerUser: 2, minFreeDiskBytes: 0 } });
    try {
      const token = await limited.tokenFor('device');
      const c = new TestUploadClient(limited.url);
      const init = (n: number) => c.init(token, { study: { studyInstanceUid: `2.25.${n}`, serviceLevel: 'ROUTINE' }, instances: [{ sopInstanceUid: `2.25.9${n}`, sopClassUid: CT, size: 10, sha256: 'c'.repeat(64) }] });
      expect((await init(1)).status).toBe(201);
      expect((await init(2)).status).toBe(201);
      const third = await init(3);
      expect(third.status).toBe(429);
      expect(third.body).toMatchObject({ error: { code: 'UPLOAD_LIMIT_REACHED' } });
    } finally {
      await limited.close();
    }
  });

  it('answers 507 to new uploads when disk space is below the threshold', async () => {
    const full = await startTestRelay({ upload: { minFreeDiskBytes: Number.MAX_SAFE_INTEGER } });
    try {
      const token = await full.tokenFor('radiographer');
      const result = await new TestUploadClient(full.url).init(token, { study: { studyInstanceUid: '2.25.5', serviceLevel: 'STAT' }, instances: [{ sopInstanceUid: '2.25.6', sopClassUid: CT, size: 10, sha256: 'd'.repeat(64) }] });
      expect(result.status).toBe(507);
      expect(result.body).toMatchObject({ error: { code: 'STORAGE_FULL' } });
      // Not ready for a new upload (chunks of admitted ones would still be taken: there are none).
      expect((await fetch(`${full.url}/readyz?bytes=10`)).status).toBe(503);
    } finally {
      await full.close();
    }
  });

  it('expires abandoned uploads and deletes their data and any orphaned data', async () => {
    const aging = await startTestRelay({ upload: { expireAfterSeconds: 3600, minFreeDiskBytes: 0 } });
    try {
      const token = await aging.tokenFor('radiographer');
      const c = new TestUploadClient(aging.url);
      const { body } = await c.init(token, { study: { studyInstanceUid: '2.25.7', serviceLevel: 'ROUTINE' }, instances: [{ sopInstanceUid: '2.25.8', sopClassUid: CT, size: 4096, sha256: 'e'.repeat(64) }] });
      expect((await c.chunk(body.uploadId, body.uploadToken, 0, 0, Buffer.alloc(1024, 1))).status).toBe(200);
      await writeFile(join(aging.dataDir, 'uploads', 'orphan-from-a-crash'), '').catch(() => undefined);
      aging.advance(2 * 3600);
      const swept = await aging.services.uploads.cleanup();
      expect(swept.expired).toBe(1);
      await expect(stat(join(aging.dataDir, 'uploads', body.uploadId))).rejects.toThrow(/ENOENT/);
      expect((await aging.services.uploads.status(body.uploadId)).state).toBe('expired');
    } finally {
      await aging.close();
    }
  });
});

describe('upload tokens', () => {
  it('are scoped to one upload, are not access tokens, and expire', async () => {
    study = await freshStudy(1);
    const a = (await initStudy()).body;
    study = await freshStudy(1);
    const b = (await initStudy()).body;
    const piece = Buffer.alloc(2048, 1);
    const crossed = await client.chunk(b.uploadId, a.uploadToken, 0, 0, piece);
    expect(crossed.status).toBe(401);
    expect(crossed.body).toMatchObject({ error: { code: 'AUTH_TOKEN_INVALID' } });
    expect((await client.request('GET', `/upload/${b.uploadId}/status`, a.uploadToken)).status).toBe(401);
    // an access token is not an upload token, and an upload token is not an access token
    expect((await client.chunk(a.uploadId, radiographer, 0, 0, piece)).status).toBe(401);
    expect((await client.init(a.uploadToken, { study: { studyInstanceUid: '2.25.9', serviceLevel: 'ROUTINE' }, instances: [{ sopInstanceUid: '2.25.10', sopClassUid: CT, size: 10, sha256: 'f'.repeat(64) }] })).status).toBe(401);
    // no token at all
    expect((await fetch(`${relay.url}/upload/${a.uploadId}/status`)).status).toBe(401);
  });

  it('need an uploader role to start an upload', async () => {
    const radiologist = await relay.tokenFor('radiologist');
    const admin = await relay.tokenFor('admin');
    for (const token of [radiologist, admin]) {
      const result = await initStudy(token);
      expect(result.status).toBe(403);
      expect(result.body).toMatchObject({ error: { code: 'AUTH_FORBIDDEN' } });
    }
  });

  it('stop working once expired', async () => {
    const clocked = await startTestRelay({ auth: { uploadTokenSeconds: 60 }, upload: { minFreeDiskBytes: 0 } });
    try {
      const token = await clocked.tokenFor('radiographer');
      const c = new TestUploadClient(clocked.url);
      const { body } = await c.init(token, { study: { studyInstanceUid: '2.25.11', serviceLevel: 'ROUTINE' }, instances: [{ sopInstanceUid: '2.25.12', sopClassUid: CT, size: 10, sha256: 'a'.repeat(64) }] });
      expect((await c.request('GET', `/upload/${body.uploadId}/status`, body.uploadToken)).status).toBe(200);
      clocked.advance(120);
      const expired = await c.request('GET', `/upload/${body.uploadId}/status`, body.uploadToken);
      expect(expired.status).toBe(401);
      expect(expired.body).toMatchObject({ error: { code: 'AUTH_TOKEN_INVALID', message: 'the token has expired' } });
    } finally {
      await clocked.close();
    }
  });
});
