// Issue 13, findings 3 to 7: what a hostile or broken client can make the relay do, over real HTTP
// on loopback (raw sockets where fetch would behave). Short timeouts are configured so the deadlines
// show in seconds; their defaults are in docs/relay.md ("Security limits").
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_UNSENT_EVENT_BYTES } from '../../src/ops/events-route.js';
import { startTestRelay, type TestRelay } from '../support/test-relay.js';
import { dripBody, floodBody, headerOf, openRaw, statusOf, type RawConnection } from '@relaypacs/testkit';
import { contentDigestHeader } from '../../src/upload/content-digest.js';
import { sha256 } from '../support/upload-client.js';

/** Events of uploads no user owns: only an admin's stream (which sees every upload's) gets them. */
const NO_OWNER = 0;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const REFUSED_BODY_BYTES = 64 * 1024;
/** What Node may read past the refused-body limit: one socket read (64 KiB) and the header. */
const READ_SLACK = 2 * 64 * 1024;
let relay: TestRelay;
let admin: string;
let radiographer: string;
/** The relay side of every connection, by the client's port: how much the relay read from it. */
const serverSockets = new Map<number, Socket>();
/** Errors the relay's request lifecycle met (hooks included). */
const requestErrors: unknown[] = [];

beforeAll(async () => {
  relay = await startTestRelay({
    upload: { minFreeDiskBytes: 0, maxChunkBytes: 1024 * 1024, minChunkBytes: 1024, preferredChunkBytes: 64 * 1024 },
    http: { headersTimeoutSeconds: 2, requestTimeoutSeconds: 2, maxConnectionsPerAddress: 40, refusedBodyBytes: REFUSED_BODY_BYTES },
  }, { beforeListen: (app) => app.addHook('onError', async (_request, _reply, error) => { requestErrors.push(error); }) });
  relay.app.server.on('connection', (socket: Socket) => serverSockets.set(socket.remotePort!, socket));
  admin = await relay.tokenFor('admin');
  radiographer = await relay.tokenFor('radiographer');
});

afterAll(async () => {
  await relay?.close();
});

const bytesReadByRelay = (connection: RawConnection) => serverSockets.get(connection.localPort)?.bytesRead ?? Number.NaN;

async function initUpload(): Promise<{ uploadId: string; uploadToken: string; bytes: Buffer }> {
  const bytes = Buffer.alloc(256 * 1024, 7);
  const response = await relay.post('/upload/init', {
    study: { studyInstanceUid: `1.2.3.${Date.now()}.${Math.floor(Math.random() * 1e6)}`, serviceLevel: 'ROUTINE' },
    instances: [{ sopInstanceUid: `1.2.3.4.${Date.now()}`, sopClassUid: '1.2.840.10008.5.1.4.1.1.2', size: bytes.length, sha256: sha256(bytes) }],
  }, radiographer);
  expect(response.status).toBe(201);
  const body = (await response.json()) as { uploadId: string; uploadToken: string };
  return { ...body, bytes };
}

describe('authentication comes before the body (finding 3)', () => {
  it('answers 401, not a validation error, to an unauthenticated request with a bad or missing body', async () => {
    for (const [path, body] of [['/upload/init', '{}'], ['/upload/init', '{"study": '], ['/admin/users', '{}'], ['/admin/users', 'not json']] as const) {
      const response = await fetch(relay.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(response.status, `${path} ${body}`).toBe(401);
      expect(await response.json()).toMatchObject({ error: { code: 'AUTH_REQUIRED' } });
    }
    const forbidden = await fetch(`${relay.url}/admin/users`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${radiographer}` }, body: '{}' });
    expect(forbidden.status).toBe(403);
  });

  it('never reads a 900 KB manifest sent without a token', async () => {
    const manifest = JSON.stringify({ study: { studyInstanceUid: '1.2.3' }, instances: Array.from({ length: 6000 }, (_, i) => ({ sopInstanceUid: `1.2.3.${i}.${'9'.repeat(100)}`, sopClassUid: '1.2.3', size: 1, sha256: '0'.repeat(64) })) });
    expect(manifest.length).toBeGreaterThan(900_000);
    const connection = await openRaw(relay.url);
    await floodBody(connection, `POST /upload/init HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: ${manifest.length}\r\n\r\n`, 0, 0);
    connection.socket.write(manifest);
    await connection.closed;
    expect(statusOf(connection.received())).toBe(401);
    expect(headerOf(connection.received(), 'connection')).toBe('close');
    expect(bytesReadByRelay(connection)).toBeLessThan(REFUSED_BODY_BYTES + READ_SLACK);
  });
});

describe('a refused request body is not drained (finding 4)', () => {
  it('closes an unauthenticated 64 GiB chunk after reading at most the refused-body limit', async () => {
    const { uploadId } = await initUpload();
    const connection = await openRaw(relay.url);
    await floodBody(connection, `PUT /upload/${uploadId}/chunk?instance=0&offset=0 HTTP/1.1\r\nHost: relay\r\nContent-Type: application/octet-stream\r\nContent-Length: ${64 * 1024 ** 3}\r\n\r\n`, 512 * 1024 * 1024, 10_000);
    const lived = await connection.closed;
    expect(statusOf(connection.received())).toBe(401);
    expect(headerOf(connection.received(), 'connection')).toBe('close');
    // Dropped 2 s after the answer (the linger), not when 64 GiB have gone by; the margin is for a loaded machine.
    expect(lived).toBeLessThan(10_000);
    expect(bytesReadByRelay(connection)).toBeLessThan(REFUSED_BODY_BYTES + READ_SLACK);
  });

  it('does the same for a chunk over the size limit sent with a valid token (413)', async () => {
    const { uploadId, uploadToken } = await initUpload();
    const connection = await openRaw(relay.url);
    await floodBody(connection, `PUT /upload/${uploadId}/chunk?instance=0&offset=0 HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer ${uploadToken}\r\nContent-Type: application/octet-stream\r\nContent-Digest: ${contentDigestHeader('0'.repeat(64))}\r\nContent-Length: ${64 * 1024 ** 3}\r\n\r\n`, 512 * 1024 * 1024, 10_000);
    await connection.closed;
    expect(statusOf(connection.received())).toBe(413);
    expect(headerOf(connection.received(), 'connection')).toBe('close');
    expect(bytesReadByRelay(connection)).toBeLessThan(REFUSED_BODY_BYTES + READ_SLACK);
  });

  it('keeps the connection of an accepted chunk alive', async () => {
    const { uploadId, uploadToken, bytes } = await initUpload();
    const answer = await fetch(`${relay.url}/upload/${uploadId}/chunk?instance=0&offset=0`, {
      method: 'PUT', body: bytes,
      headers: { authorization: `Bearer ${uploadToken}`, 'content-type': 'application/octet-stream', 'content-digest': contentDigestHeader(sha256(bytes)) },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('connection')).not.toBe('close');
  });
});

describe('timeouts and caps (finding 5)', () => {
  it('closes a login whose body drips one byte at a time within the request timeout', async () => {
    const body = JSON.stringify({ username: 'someone', password: 'x'.repeat(200) });
    const connection = await openRaw(relay.url);
    void dripBody(connection, `POST /auth/login HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body, 500);
    const lived = await connection.closed;
    // 2 s configured, checked every second; the whole body would have taken 100 s.
    expect(lived).toBeGreaterThanOrEqual(1_900);
    expect(lived).toBeLessThan(8_000);
  });

  it('closes a connection whose header never ends within the header timeout', async () => {
    const connection = await openRaw(relay.url);
    void dripBody(connection, 'GET /healthz HTTP/1.1\r\nHost: relay\r\n', 'X-Slow: ' + 'a'.repeat(100), 300);
    const lived = await connection.closed;
    // 2 s configured, checked every second; the header alone would have taken 30 s.
    expect(lived).toBeLessThan(8_000);
    expect(statusOf(connection.received())).toBe(408);
  });

  it('does not cut off a chunk that is still moving, however long it takes', async () => {
    const { uploadId, uploadToken, bytes } = await initUpload();
    const connection = await openRaw(relay.url);
    const head = `PUT /upload/${uploadId}/chunk?instance=0&offset=0 HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer ${uploadToken}\r\nContent-Type: application/octet-stream\r\nContent-Digest: ${contentDigestHeader(sha256(bytes))}\r\nContent-Length: ${bytes.length}\r\n\r\n`;
    connection.socket.write(head);
    // Twice the request timeout, in eight slices.
    for (let i = 0; i < 8; i++) {
      connection.socket.write(bytes.subarray(i * bytes.length / 8, (i + 1) * bytes.length / 8));
      await sleep(500);
    }
    await expect.poll(() => statusOf(connection.received()), { timeout: 5_000 }).toBe(200);
    connection.socket.destroy();
  });

  it('caps open connections per client address, and other addresses are still served', async () => {
    const held: RawConnection[] = [];
    try {
      for (let i = 0; i < 40; i++) held.push(await openRaw(relay.url, { localAddress: '127.0.0.3' }));
      const over = await openRaw(relay.url, { localAddress: '127.0.0.3' });
      expect(await Promise.race([over.closed.then(() => 'closed'), sleep(2_000).then(() => 'open')])).toBe('closed');
      expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
    } finally {
      for (const connection of held) connection.socket.destroy();
    }
  });

  it('keeps answering while 300 slow connections are open', async () => {
    const slow: RawConnection[] = [];
    try {
      // Spread over loopback addresses, as many clients would be (and under the per-address cap).
      for (let i = 0; i < 300; i++) {
        const connection = await openRaw(relay.url, { localAddress: `127.0.1.${1 + (i % 10)}` });
        connection.socket.write('POST /auth/login HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
        slow.push(connection);
      }
      for (let i = 0; i < 5; i++) expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
      // And every one of them is gone after the request timeout.
      await Promise.all(slow.map((c) => c.closed));
    } finally {
      for (const connection of slow) connection.socket.destroy();
    }
  });
});

describe('the event stream (finding 6)', () => {
  it('drops a client that does not read once its unsent events pass the bound', async () => {
    const connection = await openRaw(relay.url, { read: false });
    connection.socket.write(`GET /events HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer ${admin}\r\n\r\n`);
    connection.socket.pause();
    await sleep(200);
    // A paused client never sees the close: the relay's side of the connection tells.
    const relaySide = serverSockets.get(connection.localPort)!;
    const reason = 'x'.repeat(10_000);
    let emitted = 0;
    // Bounded: at most 64 MiB of events, in slices so the relay's writes reach the socket.
    while (!relaySide.destroyed && emitted < 64 * 1024 * 1024) {
      for (let i = 0; i < 100; i++) relay.services.events.publish(NO_OWNER, { type: 'failed', uploadId: 'u', instance: i, destination: 'pacs', reason });
      emitted += 100 * reason.length;
      await sleep(5);
    }
    expect(relaySide.destroyed).toBe(true);
    // Kernel buffers on both ends hold some megabytes before the relay's own buffer grows.
    expect(emitted).toBeGreaterThan(MAX_UNSENT_EVENT_BYTES);
    expect(emitted).toBeLessThan(32 * 1024 * 1024);
    connection.socket.destroy();
  });

  it('carries the same security headers as every other answer', async () => {
    const headers = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
      const request = httpRequest(`${relay.url}/events`, { headers: { authorization: `Bearer ${admin}` } }, (response) => {
        resolve(response.headers);
        response.destroy();
      });
      request.once('error', reject);
      request.end();
    });
    expect(headers).toMatchObject({
      'content-type': 'text/event-stream; charset=utf-8', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer', 'cache-control': 'no-store',
    });
    expect(headers['content-security-policy']).toContain("default-src 'none'");
  });
});

describe('strict query integers and metrics (finding 7)', () => {
  it('reads offsets and indexes only as plain decimal numbers', async () => {
    const { uploadId, uploadToken, bytes } = await initUpload();
    const put = (query: string) => fetch(`${relay.url}/upload/${uploadId}/chunk?${query}`, {
      method: 'PUT', body: bytes.subarray(16, 1040),
      headers: { authorization: `Bearer ${uploadToken}`, 'content-type': 'application/octet-stream', 'content-digest': contentDigestHeader(sha256(bytes.subarray(16, 1040))) },
    });
    for (const query of ['instance=0&offset=0x10', 'instance=0&offset=1.6e1', 'instance=0&offset=%2016', 'instance=0&offset=016', 'instance=+0&offset=16', 'instance=0&offset=-0', 'instance=0&offset=99999999999999999']) {
      const response = await put(query);
      expect(response.status, query).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    }
    expect((await put('instance=0&offset=16')).status).toBe(200);
    const head = await fetch(`${relay.url}/upload/${uploadId}/status?instance=0x0`, { method: 'HEAD', headers: { authorization: `Bearer ${uploadToken}` } });
    expect(head.status).toBe(400);
  });

  it('serves /metrics on its own listener, not on the relay\'s port', async () => {
    expect((await fetch(`${relay.url}/metrics`)).status).toBe(404);
    const scrape = await fetch(`${relay.metricsUrl}/metrics`);
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('relaypacs_uploads_started_total');
  });
});

describe('a client that drops its connection mid-chunk', () => {
  it('is answered (or not) without the refused-body limit failing the relay\'s answer', async () => {
    const { uploadId, uploadToken, bytes } = await initUpload();
    requestErrors.length = 0;
    for (let i = 0; i < 5; i++) {
      const connection = await openRaw(relay.url);
      connection.socket.write(`PUT /upload/${uploadId}/chunk?instance=0&offset=0 HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer ${uploadToken}\r\nContent-Type: application/octet-stream\r\nContent-Digest: ${contentDigestHeader(sha256(bytes))}\r\nContent-Length: ${bytes.length}\r\n\r\n`);
      connection.socket.write(bytes.subarray(0, 1024));
      await sleep(50);
      connection.socket.destroy();
      await sleep(50);
    }
    await sleep(200);
    // Errors of the aborted chunks themselves are expected; a TypeError from a hook is not.
    expect(requestErrors.filter((e) => e instanceof TypeError)).toEqual([]);
    // And the range is free again: the whole instance goes through.
    const answer = await fetch(`${relay.url}/upload/${uploadId}/chunk?instance=0&offset=0`, {
      method: 'PUT', body: bytes,
      headers: { authorization: `Bearer ${uploadToken}`, 'content-type': 'application/octet-stream', 'content-digest': contentDigestHeader(sha256(bytes)) },
    });
    expect(answer.status).toBe(200);
  });
});
