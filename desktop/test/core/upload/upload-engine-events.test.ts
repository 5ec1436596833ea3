// The upload engine following delivery through the relay's event stream: the real relay
// (in-process, real HTTP, real SQLite) forwarding to a real Orthanc, set up as upload-engine.test.ts
// does. Status polls are made slow (60 s) so only events can finish a study promptly.
import { CuttingProxy, freeLoopbackPort, type OrthancServer } from '@relaypacs/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestRelay } from '../../../../server/test/support/test-relay.js';
import type { CatalogDatabase } from '../../../src/core/catalog/catalog-database.js';
import { RelayClient } from '../../../src/core/upload/relay-client.js';
import { RelayEventStream, type UploadEventNotice } from '../../../src/core/upload/relay-event-stream.js';
import { UploadEngine, type JobOutcome } from '../../../src/core/upload/upload-engine.js';
import { startEngineWorld, type EngineWorld } from './engine-test-world.js';

const SLOW_POLL_MS = 60_000;

let world: EngineWorld;
let orthanc: OrthancServer;
let relay: TestRelay;
let db: CatalogDatabase;
let token: string;
const streams: RelayEventStream[] = [];

beforeAll(async () => {
  world = await startEngineWorld('relaypacs-engine-events-');
  ({ orthanc, relay, db, token } = world);
});
afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});
afterAll(async () => {
  await world?.close();
});

const importStudy = (name: string, instances: number, size?: number) => world.importStudy(name, instances, size);

function eventStream(baseUrl = relay.url): RelayEventStream {
  const stream = new RelayEventStream({ baseUrl, accessToken: async () => token, backoffBaseMs: 50, backoffMaxMs: 200 });
  streams.push(stream);
  return stream;
}

/**
 * An engine whose client counts status requests and notes when /complete answered (delivery is
 * followed from then on).
 */
function engine(events: RelayEventStream | undefined, polls: { pollIntervalMs: number; connectedPollIntervalMs?: number }) {
  const client = new RelayClient({ baseUrl: relay.url });
  const probe = { statusRequests: 0, completedAt: 0, onComplete: () => undefined as void };
  const status = client.status.bind(client);
  client.status = async (...args) => {
    probe.statusRequests++;
    return status(...args);
  };
  const complete = client.complete.bind(client);
  client.complete = async (...args) => {
    const answer = await complete(...args);
    probe.completedAt = performance.now();
    probe.statusRequests = 0;
    probe.onComplete();
    return answer;
  };
  const e = new UploadEngine({ db, client, accessToken: async () => token, backoffBaseMs: 50, backoffMaxMs: 200, ...polls, ...(events ? { events } : {}) });
  return { e, probe };
}

async function send(e: UploadEngine, probe: { completedAt: number; statusRequests: number }, studyInstanceUid: string): Promise<{ outcome: JobOutcome; followMs: number }> {
  const outcome = await e.run(e.enqueue(studyInstanceUid, 'ROUTINE'));
  const followMs = performance.now() - probe.completedAt;
  if (process.env.DEBUG_ENGINE) console.log('FOLLOW', `job ${outcome.jobId}: ${Math.round(followMs)} ms, ${probe.statusRequests} status requests`);
  return { outcome, followMs };
}

describe('upload engine with the relay event stream', () => {
  it('learns of delivery and confirmation from events, well before any poll would', async () => {
    const study = await importStudy('events', 6);
    const stream = eventStream();
    const { e, probe } = engine(stream, { pollIntervalMs: SLOW_POLL_MS, connectedPollIntervalMs: SLOW_POLL_MS });
    const { outcome, followMs } = await send(e, probe, study.studyInstanceUid);
    expect(outcome.state, JSON.stringify(outcome)).toBe('confirmed');
    expect(outcome.instances.map((i) => i.state)).toEqual(Array(6).fill('confirmed'));
    expect(followMs).toBeLessThan(10_000);
    // Only events and the stream connecting triggered status requests: a handful, not one per poll.
    expect(probe.statusRequests).toBeGreaterThanOrEqual(1);
    expect(probe.statusRequests).toBeLessThanOrEqual(6 * 4 + 2);
    expect((await orthanc.listInstances()).filter((i) => study.instances.some((s) => s.sopInstanceUid === i.sopInstanceUid))).toHaveLength(6);

    // The stream stayed open (it lingers) and carries the next study too.
    expect(stream.connected).toBe(true);
    const next = await importStudy('events-2', 2);
    const second = await send(e, probe, next.studyInstanceUid);
    expect(second.outcome.state).toBe('confirmed');
    expect(second.followMs).toBeLessThan(10_000);
  });

  it('falls back to polling when the event stream cannot connect', async () => {
    const study = await importStudy('no-events', 3);
    const stream = eventStream(`http://127.0.0.1:${await freeLoopbackPort()}`);
    const { e, probe } = engine(stream, { pollIntervalMs: 100, connectedPollIntervalMs: SLOW_POLL_MS });
    const { outcome } = await send(e, probe, study.studyInstanceUid);
    expect(outcome.state).toBe('confirmed');
    expect(outcome.instances.map((i) => i.state)).toEqual(Array(3).fill('confirmed'));
    expect(stream.connected).toBe(false);
  });

  it('without a stream at all, polls as before', async () => {
    const study = await importStudy('polling', 2);
    const { e, probe } = engine(undefined, { pollIntervalMs: 100 });
    const { outcome } = await send(e, probe, study.studyInstanceUid);
    expect(outcome.state).toBe('confirmed');
  });

  it('catches up at once when the stream comes back after a drop mid-delivery', async () => {
    const study = await importStudy('dropped', 4);
    const proxy = await CuttingProxy.start(Number(new URL(relay.url).port));
    try {
      const stream = eventStream(proxy.url);
      // Something else keeps the stream open, so it is connected before this study is followed.
      const watcher: UploadEventNotice[] = [];
      stream.subscribe('someone-else', (n) => watcher.push(n));
      await expect.poll(() => stream.connected).toBe(true);
      const { e, probe } = engine(stream, { pollIntervalMs: SLOW_POLL_MS, connectedPollIntervalMs: SLOW_POLL_MS });
      // The link goes down as the relay accepts the study (events of its delivery are lost), and
      // comes back 500 ms later.
      probe.onComplete = () => {
        proxy.setDown(true);
        setTimeout(() => proxy.setDown(false), 500);
      };
      const { outcome, followMs } = await send(e, probe, study.studyInstanceUid);
      expect(outcome.state).toBe('confirmed');
      expect(followMs).toBeGreaterThanOrEqual(450);
      expect(followMs).toBeLessThan(10_000);
      expect(watcher.flatMap((n) => (n.kind === 'connection' ? [n.connected] : []))).toEqual([true, false, true]);
    } finally {
      await proxy.stop();
    }
  });
});
