// Issue 13, findings 1 and 2: an upload token and an event stream die with the session that made
// them (sign-out, refresh-token reuse, password change, account disabled), over real HTTP.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, type GeneratedStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserAccounts } from '../../src/auth/user-accounts.js';
import type { TokenResponse } from '../../src/protocol/auth-protocol.js';
import { STREAM_CHECK_MS } from '../../src/ops/events-route.js';
import { errorCode, startTestRelay, type TestRelay } from '../support/test-relay.js';
import { manifestFor, TestUploadClient } from '../support/upload-client.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
let relay: TestRelay;
let client: TestUploadClient;
let workDir: string;
let users = 0;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-session-bound-'));
  // Real time, so the event stream's checks and token expiry run as they do in production.
  relay = await startTestRelay({ upload: { minFreeDiskBytes: 0 } }, { deliver: true });
  client = new TestUploadClient(relay.url);
});

afterAll(async () => {
  await relay?.close();
  await rm(workDir, { recursive: true, force: true });
});

async function signedInUser(role: 'radiographer' | 'admin' = 'radiographer'): Promise<{ name: string; session: TokenResponse }> {
  const name = `user-${++users}`;
  await relay.addUser(name, role);
  return { name, session: await relay.login(name) };
}

async function startUpload(accessToken: string): Promise<{ uploadId: string; uploadToken: string; study: GeneratedStudy; files: Buffer[] }> {
  const study = await generateStudy(join(workDir, `study-${users}`), { instances: 2, rows: 32, columns: 32, transferSyntax: 'explicit-le' });
  const init = await client.init(accessToken, {
    study: { studyInstanceUid: study.studyInstanceUid, modality: 'CT', serviceLevel: 'ROUTINE' },
    instances: await manifestFor(study.instances.map((i) => i.path), study.instances.map((i) => i.sopInstanceUid), CT),
  });
  expect(init.status).toBe(201);
  return { uploadId: init.body.uploadId, uploadToken: init.body.uploadToken, study, files: await Promise.all(study.instances.map((i) => readFile(i.path))) };
}

/** Every upload route refuses the token with 401 AUTH_TOKEN_INVALID. */
async function expectUploadTokenDead(uploadId: string, uploadToken: string, files: Buffer[]): Promise<void> {
  const status = await client.request('GET', `/upload/${uploadId}/status`, uploadToken);
  expect(status.status).toBe(401);
  expect(status.body).toMatchObject({ error: { code: 'AUTH_TOKEN_INVALID' } });
  const chunk = await client.chunk(uploadId, uploadToken, 0, 0, files[0]!);
  expect(chunk.status).toBe(401);
  expect((await client.request('POST', `/upload/${uploadId}/complete`, uploadToken)).status).toBe(401);
  expect((await client.request('POST', `/upload/${uploadId}/retry`, uploadToken)).status).toBe(401);
  expect((await client.request('DELETE', `/upload/${uploadId}`, uploadToken)).status).toBe(401);
}

const accounts = () => new UserAccounts(relay.services.store);
const actor = { userId: null, address: '127.0.0.1' };

describe('an upload token is bound to its session and user', () => {
  it('works while the session lives', async () => {
    const { session } = await signedInUser();
    const upload = await startUpload(session.accessToken);
    expect((await client.request('GET', `/upload/${upload.uploadId}/status`, upload.uploadToken)).status).toBe(200);
    expect((await client.chunk(upload.uploadId, upload.uploadToken, 0, 0, upload.files[0]!)).status).toBe(200);
  });

  it('dies at sign-out', async () => {
    const { session } = await signedInUser();
    const upload = await startUpload(session.accessToken);
    expect((await relay.post('/auth/logout', { refreshToken: session.refreshToken })).status).toBe(204);
    await expectUploadTokenDead(upload.uploadId, upload.uploadToken, upload.files);
  });

  it('dies when the refresh-token family is revoked for reuse', async () => {
    const { session } = await signedInUser();
    const upload = await startUpload(session.accessToken);
    expect((await relay.post('/auth/refresh', { refreshToken: session.refreshToken })).status).toBe(200);
    // The spent token again, past the grace for a lost answer: a copy is loose, the whole session ends.
    relay.advance(61);
    expect((await relay.post('/auth/refresh', { refreshToken: session.refreshToken })).status).toBe(401);
    await expectUploadTokenDead(upload.uploadId, upload.uploadToken, upload.files);
  });

  it('dies when the account is disabled or its password changed', async () => {
    const disabled = await signedInUser();
    const first = await startUpload(disabled.session.accessToken);
    await accounts().setDisabled(disabled.name, true, actor);
    await expectUploadTokenDead(first.uploadId, first.uploadToken, first.files);

    const changed = await signedInUser();
    const second = await startUpload(changed.session.accessToken);
    await accounts().setPassword(changed.name, 'a brand new password', actor);
    await expectUploadTokenDead(second.uploadId, second.uploadToken, second.files);
  });

  it('leaves an upload the relay already accepted to be delivered', async () => {
    const { session } = await signedInUser();
    const upload = await startUpload(session.accessToken);
    for (const [index, bytes] of upload.files.entries()) expect((await client.chunk(upload.uploadId, upload.uploadToken, index, 0, bytes)).status).toBe(200);
    expect((await client.request('POST', `/upload/${upload.uploadId}/complete`, upload.uploadToken)).status).toBe(200);
    expect((await relay.post('/auth/logout', { refreshToken: session.refreshToken })).status).toBe(204);
    await expectUploadTokenDead(upload.uploadId, upload.uploadToken, upload.files);
    // The relay owns the study now: it reaches the destination (the embedded folder) all the same.
    await expect.poll(async () => (await relay.services.deliveries.itemsOf(upload.uploadId)).map((i) => i.state), { timeout: 20_000 }).toEqual(['delivered', 'delivered']);
  });
});

/** Opens GET /events and resolves when the relay ends it, with how long it lived. */
function openEventStream(accessToken: string): Promise<{ response: IncomingMessage; ended: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const opened = Date.now();
    const request = httpRequest(`${relay.url}/events`, { headers: { authorization: `Bearer ${accessToken}` } }, (response) => {
      response.resume();
      const ended = new Promise<number>((done) => response.once('close', () => done(Date.now() - opened)));
      resolve({ response, ended });
    });
    request.once('error', reject);
    request.end();
  });
}

describe('an event stream lives no longer than its session and token', () => {
  it('closes within 5 s of sign-out, and a reconnect with the old token is refused', async () => {
    const { session } = await signedInUser('admin');
    const stream = await openEventStream(session.accessToken);
    expect(stream.response.statusCode).toBe(200);
    const signedOut = Date.now();
    await relay.post('/auth/logout', { refreshToken: session.refreshToken });
    await stream.ended;
    expect(Date.now() - signedOut).toBeLessThan(5_000);
    expect(await errorCode(await relay.get('/events', session.accessToken))).toBe('AUTH_TOKEN_INVALID');
  });

  it('closes within 5 s of the account being disabled', async () => {
    const { name, session } = await signedInUser();
    const stream = await openEventStream(session.accessToken);
    const disabledAt = Date.now();
    await accounts().setDisabled(name, true, actor);
    await stream.ended;
    expect(Date.now() - disabledAt).toBeLessThan(5_000);
  });

  it('closes when its access token expires', async () => {
    const { session } = await signedInUser();
    const stream = await openEventStream(session.accessToken);
    // The relay's clock passes the token's expiry (default 600 s); the stream ends at the next check.
    relay.advance(601);
    const lived = await stream.ended;
    expect(lived).toBeLessThan(STREAM_CHECK_MS * 3);
  });
});
