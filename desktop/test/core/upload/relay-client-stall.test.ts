// RelayClient's stall detection against a real HTTP server on loopback that reads chunks slowly,
// stops reading, answers early or not at all. (A stand-in for the relay: the behaviour under test
// is the client's; the real relay is in the engine tests.)
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { RelayClient, RelayRequestError } from '../../../src/core/upload/relay-client.js';

const MiB = 1024 * 1024;
let server: Server | undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function serve(handler: (request: IncomingMessage, response: ServerResponse) => void, tls?: { key: Buffer; cert: Buffer }): Promise<{ url: string }> {
  server = tls ? createHttpsServer(tls, handler) : createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A throwaway self-signed certificate for 127.0.0.1, as server/test/ops/https.test.ts makes it. */
async function selfSigned(): Promise<{ key: Buffer; cert: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'relaypacs-client-tls-'));
  try {
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    return { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Takes 1 MiB of each request every 100 ms; with `stopAfter`, nothing more after that many bytes. */
function throttled(stopAfter = Infinity) {
  return (request: IncomingMessage, response: ServerResponse) => {
    let window = 0;
    let read = 0;
    const timer = setInterval(() => {
      window = 0;
      if (read < stopAfter) request.resume();
    }, 100);
    request.on('data', (chunk: Buffer) => {
      window += chunk.length;
      read += chunk.length;
      if (window >= MiB || read >= stopAfter) request.pause();
    });
    request.on('end', () => {
      clearInterval(timer);
      ok(response);
    });
    request.on('close', () => clearInterval(timer));
  };
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

const ok = (response: ServerResponse) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));

describe('relay client stall detection', () => {
  it('waits for a chunk that keeps moving, however much longer than the stall time it takes', async () => {
    // 24 MiB (beyond what kernel buffers hold) at 1 MiB every 100 ms: about 2.4 s.
    const { url } = await serve(throttled());
    const client = new RelayClient({ baseUrl: url });
    const started = performance.now();
    await expect(client.putChunk('u', 't', 0, 0, Buffer.alloc(24 * MiB), { stallMs: 500 })).resolves.toEqual({ ok: true });
    expect(performance.now() - started).toBeGreaterThan(1_000);
  });

  it('gives up a chunk on which nothing moves for the stall time', async () => {
    // Takes 1 MiB, then nothing: the kernel buffers fill and the chunk stops moving.
    const { url } = await serve(throttled(MiB));
    const client = new RelayClient({ baseUrl: url });
    const started = performance.now();
    const error = await client.putChunk('u', 't', 0, 0, Buffer.alloc(64 * MiB), { stallMs: 400 }).catch((e: unknown) => e);
    const took = performance.now() - started;
    expect(error).toBeInstanceOf(RelayRequestError);
    expect(error).toMatchObject({ status: undefined, transient: true, stall: { phase: 'transfer' } });
    expect((error as Error).message).toMatch(/stalled/);
    expect(took).toBeGreaterThanOrEqual(400);
    expect(took).toBeLessThan(3_000);
  });

  it('tells moving from stuck over HTTPS too (by the TCP connection under TLS)', async () => {
    const tls = await selfSigned();
    const moving = await serve(throttled(), tls);
    const client = new RelayClient({ baseUrl: moving.url, ca: tls.cert });
    // Bytes move every 100 ms; 2 s of slack for a loaded machine (TLS on two busy cores once held them for over 500 ms).
    await expect(client.putChunk('u', 't', 0, 0, Buffer.alloc(24 * MiB), { stallMs: 2_000 })).resolves.toEqual({ ok: true });
    server!.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
    const stuck = await serve(throttled(MiB), tls);
    const error = await new RelayClient({ baseUrl: stuck.url, ca: tls.cert }).putChunk('u', 't', 0, 0, Buffer.alloc(64 * MiB), { stallMs: 500 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: undefined, stall: { phase: 'transfer' } });
  });

  it('stops sending the rest of a chunk the relay answered early (a 409): the connection is dropped, not drained', async () => {
    let bytesRead = 0;
    const { url } = await serve((request, response) => {
      response.writeHead(409, { 'content-type': 'application/json', 'retry-after': '1' })
        .end(JSON.stringify({ error: { code: 'UPLOAD_CHUNK_IN_PROGRESS', message: 'busy' } }));
      request.socket.on('close', () => {
        bytesRead = request.socket.bytesRead;
      });
    });
    const client = new RelayClient({ baseUrl: url });
    const error = await client.putChunk('u', 't', 0, 0, Buffer.alloc(256 * MiB)).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 409, code: 'UPLOAD_CHUNK_IN_PROGRESS', transient: true, retryAfterSeconds: 1 });
    await sleep(500);
    // The relay read whatever was on its way when the answer came, not the 256 MiB after it.
    expect(bytesRead).toBeGreaterThan(0);
    expect(bytesRead).toBeLessThan(128 * MiB);
  });

  it('sends another copy of a status request on a new connection when its answer is slow to come, and takes the first answer', async () => {
    let requests = 0;
    const sockets = new Set<Socket>();
    const { url } = await serve((request, response) => {
      sockets.add(request.socket);
      // The first request is never answered (its answer lost on the way); the second is.
      if (++requests === 1) return;
      ok(response);
    });
    const client = new RelayClient({ baseUrl: url });
    const started = performance.now();
    await expect(client.status('u', 't')).resolves.toEqual({ ok: true });
    const took = performance.now() - started;
    expect(requests).toBe(2);
    expect(sockets.size).toBe(2);
    expect(took).toBeGreaterThanOrEqual(1_500); // HEDGE_MS
    expect(took).toBeLessThan(4_000); // long before the first would count as stalled (8 s)
  });

  it('waits longer for the answer to complete before sending another copy (the relay may be verifying)', async () => {
    let requests = 0;
    const { url } = await serve((_request, response) => {
      if (++requests === 1) return;
      ok(response);
    });
    const client = new RelayClient({ baseUrl: url });
    const started = performance.now();
    const complete = client.complete('u', 't');
    expect(await Promise.race([complete, sleep(3_000).then(() => 'waiting')])).toBe('waiting');
    expect(requests).toBe(1);
    await expect(complete).resolves.toEqual({ ok: true });
    expect(requests).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(5_000); // COMPLETE_HEDGE_MS
  });

  it('keeps a wall-clock limit on other requests, as the request timeout', async () => {
    const { url } = await serve(() => undefined); // never answers
    const client = new RelayClient({ baseUrl: url, requestTimeoutMs: 300 });
    const started = performance.now();
    await expect(client.logout('r')).rejects.toMatchObject({ status: undefined, transient: true });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await client.isLive(200)).toBe(false);
  });
});
