// The event stream client against the real relay (in-process, real HTTP): events are raised through
// the relay's own RelayEvents service, links are cut with the test kit's CuttingProxy.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CuttingProxy, freeLoopbackPort } from '@relaypacs/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RelayEvent } from '../../../../server/src/protocol/event-protocol.js';
import { hashPassword } from '../../../../server/src/auth/passwords.js';
import { parseRelayConfig } from '../../../../server/src/config/relay-config.js';
import { startRelayServer } from '../../../../server/src/server.js';
import { startTestRelay, type TestRelay } from '../../../../server/test/support/test-relay.js';
import { RelayEventStream, type RelayEventStreamOptions, type UploadEventNotice } from '../../../src/core/upload/relay-event-stream.js';

/** Events of uploads no user owns: only an admin's stream (which sees every upload's) gets them. */
const NO_OWNER = 0;

let relay: TestRelay;
/** An admin sees every upload's events, so tests can raise them for made-up upload ids. */
let adminToken: string;
const streams: RelayEventStream[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
  adminToken = await relay.tokenFor('admin');
});
afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});
afterAll(async () => {
  await relay?.close();
});

function stream(options: Partial<RelayEventStreamOptions> = {}): RelayEventStream {
  const s = new RelayEventStream({ baseUrl: relay.url, accessToken: async () => adminToken, backoffBaseMs: 20, backoffMaxMs: 100, ...options });
  streams.push(s);
  return s;
}

function follow(s: RelayEventStream, uploadId: string): { notices: UploadEventNotice[]; unsubscribe: () => void } {
  const notices: UploadEventNotice[] = [];
  return { notices, unsubscribe: s.subscribe(uploadId, (n) => notices.push(n)) };
}

const events = (notices: UploadEventNotice[]) => notices.flatMap((n) => (n.kind === 'event' ? [n.event] : []));
const connections = (notices: UploadEventNotice[]) => notices.flatMap((n) => (n.kind === 'connection' ? [n.connected] : []));

function openConnections(): Promise<number> {
  return new Promise((resolve, reject) => relay.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

describe('relay event stream', () => {
  it('opens when an upload is followed, hands each follower only its upload\'s events, and closes', async () => {
    const s = stream();
    expect(s.connected).toBe(false);
    const a = follow(s, 'upload-a');
    const b = follow(s, 'upload-b');
    await expect.poll(() => s.connected).toBe(true);
    const delivered: RelayEvent = { type: 'delivered', uploadId: 'upload-a', instance: 0, destination: 'pacs' };
    relay.services.events.publish(NO_OWNER, delivered);
    relay.services.events.publish(NO_OWNER, { type: 'accepted', uploadId: 'upload-c' });
    relay.services.events.publish(NO_OWNER, { type: 'confirmed', uploadId: 'upload-a', instance: 0, destination: 'pacs' });
    await expect.poll(() => events(a.notices).length).toBe(2);
    expect(events(a.notices)[0]).toEqual(delivered);
    expect(connections(a.notices)).toEqual([true]);
    expect(events(b.notices)).toEqual([]);
    s.close();
    expect(s.connected).toBe(false);
    // The relay sees the connection go: nothing of the stream is left open.
    await expect.poll(openConnections).toBe(0);
    // A closed stream takes no new followers and opens nothing.
    const late = follow(s, 'upload-a');
    await new Promise((r) => setTimeout(r, 100));
    expect(s.connected).toBe(false);
    expect(late.notices).toEqual([]);
  });

  it('after a 401 asks the token provider for a fresh token, naming the refused one, and connects', async () => {
    const asked: (string | undefined)[] = [];
    const s = stream({
      accessToken: async (rejected) => {
        asked.push(rejected);
        return rejected === undefined ? 'rpa_expired.or.revoked' : adminToken;
      },
    });
    follow(s, 'upload-a');
    await expect.poll(() => s.connected).toBe(true);
    expect(asked).toEqual([undefined, 'rpa_expired.or.revoked']);
  });

  it('reconnects with backoff after the link drops or goes down, telling followers both ways', async () => {
    const proxy = await CuttingProxy.start(Number(new URL(relay.url).port));
    try {
      let attempts = 0;
      const s = stream({ baseUrl: proxy.url, accessToken: async () => (attempts++, adminToken) });
      const a = follow(s, 'upload-a');
      await expect.poll(() => s.connected).toBe(true);
      // A cut: the stream comes back by itself.
      expect(proxy.cutAll()).toBeGreaterThan(0);
      await expect.poll(() => connections(a.notices)).toEqual([true, false, true]);
      relay.services.events.publish(NO_OWNER, { type: 'accepted', uploadId: 'upload-a' });
      await expect.poll(() => events(a.notices)).toEqual([{ type: 'accepted', uploadId: 'upload-a' }]);
      // The link is down for 600 ms: attempts keep coming, backed off (20 ms doubling to 100 ms, with jitter).
      const before = attempts;
      proxy.setDown(true);
      await new Promise((r) => setTimeout(r, 600));
      expect(s.connected).toBe(false);
      const during = attempts - before;
      expect(during).toBeGreaterThanOrEqual(4);
      expect(during).toBeLessThanOrEqual(40);
      proxy.setDown(false);
      await expect.poll(() => s.connected).toBe(true);
      expect(connections(a.notices)).toEqual([true, false, true, false, true]);
    } finally {
      await proxy.stop();
    }
  });

  it('abandons a link on which nothing arrives for idleTimeoutMs (the relay sends a comment every 15 s)', async () => {
    const s = stream({ idleTimeoutMs: 300 });
    const a = follow(s, 'upload-a');
    await expect.poll(() => connections(a.notices).length, { timeout: 3000 }).toBeGreaterThanOrEqual(3);
    expect(connections(a.notices).slice(0, 3)).toEqual([true, false, true]);
  });

  it('keeps trying an unreachable relay only while something is followed, and lingers before closing', async () => {
    let attempts = 0;
    const s = stream({ baseUrl: `http://127.0.0.1:${await freeLoopbackPort()}`, accessToken: async () => (attempts++, adminToken), lingerMs: 150 });
    const a = follow(s, 'upload-a');
    await expect.poll(() => attempts).toBeGreaterThanOrEqual(3);
    expect(a.notices).toEqual([]);
    a.unsubscribe();
    await new Promise((r) => setTimeout(r, 300));
    const settled = attempts;
    await new Promise((r) => setTimeout(r, 300));
    expect(attempts).toBe(settled);

    // Against the relay: the stream outlives its last follower by lingerMs, so the next study reuses it.
    const t = stream({ lingerMs: 300 });
    const first = follow(t, 'upload-a');
    await expect.poll(() => t.connected).toBe(true);
    first.unsubscribe();
    await new Promise((r) => setTimeout(r, 100));
    expect(t.connected).toBe(true);
    const second = follow(t, 'upload-b');
    await new Promise((r) => setTimeout(r, 400));
    expect(t.connected).toBe(true);
    second.unsubscribe();
    await expect.poll(() => t.connected).toBe(false);
    await expect.poll(openConnections).toBe(0);
  });

  it('sees the end of the stream when the relay shuts down, and the relay does not wait for it', async () => {
    const other = await startTestRelay();
    const s = stream({ baseUrl: other.url, accessToken: async () => other.tokenFor('admin') });
    const a = follow(s, 'upload-a');
    await expect.poll(() => s.connected).toBe(true);
    const started = performance.now();
    await other.close();
    expect(performance.now() - started).toBeLessThan(2000);
    await expect.poll(() => connections(a.notices)).toEqual([true, false]);
  });

  it('speaks HTTPS to a relay whose certificate chains to the given CA, and to no other', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relaypacs-events-tls-'));
    // A throwaway self-signed certificate for 127.0.0.1, as server/test/ops/https.test.ts makes it.
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    const tls = await startRelayServer(parseRelayConfig({
      dataDir: join(dir, 'data'), port: 0, logLevel: 'silent', metrics: { port: 0 }, tls: { keyFile: join(dir, 'key.pem'), certFile: join(dir, 'cert.pem') },
    }));
    try {
      const user = await tls.services.store.users.create('events-admin', 'admin', await hashPassword('correct horse battery'));
      const sessionId = await tls.services.store.sessions.create(user.id, new Date(Date.now() + 3600_000));
      const tlsToken = (await tls.services.tokens.issueAccessToken({ userId: user.id, username: 'events-admin', role: 'admin', sessionId })).token;
      let untrustedAttempts = 0;
      const untrusted = stream({ baseUrl: tls.url, accessToken: async () => (untrustedAttempts++, tlsToken) });
      follow(untrusted, 'upload-a');
      const trusted = stream({ baseUrl: tls.url, accessToken: async () => tlsToken, ca: await readFile(join(dir, 'cert.pem')) });
      const a = follow(trusted, 'upload-a');
      await expect.poll(() => trusted.connected).toBe(true);
      tls.services.events.publish(NO_OWNER, { type: 'accepted', uploadId: 'upload-a' });
      await expect.poll(() => events(a.notices)).toEqual([{ type: 'accepted', uploadId: 'upload-a' }]);
      await expect.poll(() => untrustedAttempts).toBeGreaterThanOrEqual(2);
      expect(untrusted.connected).toBe(false);
    } finally {
      for (const s of streams.splice(0)) s.close();
      await tls.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
