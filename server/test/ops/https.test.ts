import { execFile } from 'node:child_process';
import { request } from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
  relay = await startRelayServer(parseRelayConfig({
    dataDir: join(dir, 'data'), port: 0, logLevel: 'silent',
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
