import { execFile } from 'node:child_process';
import { request } from 'node:https';
import { connect, type ConnectionOptions } from 'node:tls';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseRelayConfig } from '../../src/config/relay-config.js';
import { startRelayServer, type RunningRelay } from '../../src/server.js';

const run = promisify(execFile);
let dir: string;
let relay: RunningRelay;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relaypacs-tls-'));
  // A throwaway self-signed certificate for 127.0.0.1, made by the test.
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
  await writeFile(join(dir, 'metrics-token'), 'scrape-secret-0123456789\n', { mode: 0o600 });
  relay = await startRelayServer(parseRelayConfig({
    dataDir: join(dir, 'data'), port: 0, logLevel: 'silent', metrics: { port: 0, bearerTokenFile: join(dir, 'metrics-token') },
    tls: { keyFile: join(dir, 'key.pem'), certFile: join(dir, 'cert.pem') },
  }));
});

afterAll(async () => {
  await relay?.close();
  await rm(dir, { recursive: true, force: true });
});

it('serves HTTPS when given a key and certificate, with HSTS', async () => {
  expect(relay.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = await readFile(join(dir, 'cert.pem'));
  const answer = await new Promise<{ status: number; hsts: string | undefined; body: string }>((resolve, reject) => {
    const req = request(`${relay.url}/healthz`, { ca }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, hsts: res.headers['strict-transport-security'], body }));
    });
    req.on('error', reject);
    req.end();
  });
  expect(answer).toMatchObject({ status: 200, body: '{"status":"ok"}' });
  expect(answer.hsts).toMatch(/max-age=\d+/);
});

/** The status and headers of one GET over HTTPS, trusting the test's certificate. */
async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const ca = await readFile(join(dir, 'cert.pem'));
  return new Promise((resolve, reject) => {
    const req = request(`${relay.url}${path}`, { ca, headers }, (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      res.destroy();
    });
    req.on('error', reject);
    req.end();
  });
}

/** Whether a TLS handshake with these client settings succeeds, and what was agreed. */
async function handshake(options: ConnectionOptions): Promise<{ ok: true; protocol: string | null; cipher: string } | { ok: false }> {
  const { port } = new URL(relay.url);
  const ca = await readFile(join(dir, 'cert.pem'));
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port), ca, servername: undefined, ...options }, () => {
      resolve({ ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher().standardName });
      socket.destroy();
    });
    socket.once('error', () => resolve({ ok: false }));
  });
}

it('offers TLS 1.3 and TLS 1.2 with forward-secret AEAD suites only (Mozilla intermediate)', async () => {
  expect(await handshake({})).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
  expect(await handshake({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })).toMatchObject({ ok: true, protocol: 'TLSv1.2' });
  expect(await handshake({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' })).toMatchObject({ ok: true, protocol: 'TLSv1.2' });
  // CBC suites (with and without SHA-2) are refused, whatever the client prefers.
  for (const ciphers of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'ECDHE-ECDSA-AES128-SHA256']) {
    expect(await handshake({ maxVersion: 'TLSv1.2', ciphers }), ciphers).toEqual({ ok: false });
  }
  expect(await handshake({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })).toEqual({ ok: false });
});

it('sends HSTS and the other security headers on the event stream too', async () => {
  const user = await relay.services.store.users.create('tls-events', 'radiographer', 'unused-hash');
  const sessionId = await relay.services.store.sessions.create(user.id, new Date(Date.now() + 3600_000));
  const { token } = await relay.services.tokens.issueAccessToken({ userId: user.id, username: 'tls-events', role: 'radiographer', sessionId });
  const answer = await get('/events', { authorization: `Bearer ${token}` });
  expect(answer.status).toBe(200);
  expect(answer.headers['strict-transport-security']).toMatch(/max-age=\d+/);
  expect(answer.headers['x-frame-options']).toBe('DENY');
});

it('answers /metrics on the relay\'s port only to bearers of the scrape token, and on its own listener', async () => {
  expect((await get('/metrics')).status).toBe(401);
  expect((await get('/metrics', { authorization: 'Bearer wrong' })).status).toBe(401);
  expect((await get('/metrics', { authorization: 'Bearer scrape-secret-0123456789' })).status).toBe(200);
  expect(relay.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect((await fetch(`${relay.metricsUrl}/metrics`)).status).toBe(200);
});
