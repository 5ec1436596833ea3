import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../support/test-relay.js';

let relay: TestRelay;
beforeAll(async () => {
  relay = await startTestRelay({ upload: { minFreeDiskBytes: 0 } });
});
afterAll(async () => {
  await relay?.close();
});

describe('operations endpoints', () => {
  it('answers liveness and readiness', async () => {
    expect(await (await fetch(`${relay.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${relay.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: 'ok', disk: 'ok' } });
  });

  it('exposes Prometheus metrics', async () => {
    const response = await fetch(`${relay.metricsUrl}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await response.text();
    for (const name of ['relaypacs_uploads_started_total', 'relaypacs_upload_bytes_received_total', 'relaypacs_chunk_duration_seconds_bucket', 'relaypacs_chunk_rejections_total', 'relaypacs_process_resident_memory_bytes']) {
      expect(text).toContain(name);
    }
  });

  it('sends security headers and no CORS headers unless configured', async () => {
    const response = await fetch(`${relay.url}/healthz`, { headers: { origin: 'https://evil.example' } });
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows configured CORS origins only', async () => {
    const withCors = await startTestRelay({ corsOrigins: ['https://viewer.hospital.test'] });
    try {
      const allowed = await fetch(`${withCors.url}/healthz`, { headers: { origin: 'https://viewer.hospital.test' } });
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://viewer.hospital.test');
      const other = await fetch(`${withCors.url}/healthz`, { headers: { origin: 'https://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await withCors.close();
    }
  });

  it('answers unknown routes and malformed JSON with coded errors, never 500', async () => {
    const missing = await fetch(`${relay.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const token = await relay.tokenFor('radiographer');
    const garbled = await fetch(`${relay.url}/upload/init`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"study": ' });
    expect(garbled.status).toBe(400);
    expect(await garbled.json()).toMatchObject({ error: { code: 'BAD_REQUEST' } });
  });
});
