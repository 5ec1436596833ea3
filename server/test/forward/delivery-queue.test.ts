// The delivery queue's rules, driven through the real relay (HTTP upload, SQLite, storage) with a
// scripted destination standing in for a PACS whose answers the test chooses. Real PACS are in
// delivery-orthanc.test.ts.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, type GeneratedStudy } from '@relaypacs/testkit';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TransientDestinationError, type Destination, type InstanceOutcome, type InstanceToSend, type StudyContext } from '../../src/forward/destination.js';
import { startTestRelay, type TestRelay } from '../support/test-relay.js';
import { allDelivered, sendStudy, waitForStatus } from '../support/upload-flow.js';
import { manifestFor, sha256, TestUploadClient } from '../support/upload-client.js';

/** A destination that records what it receives and answers as its script says. */
class ScriptedDestination implements Destination {
  readonly kind = 'folder' as const;
  readonly received: { sopInstanceUid: string; serviceLevel: string; sha256: string }[] = [];
  calls = 0;
  answer: (instance: InstanceToSend, call: number) => InstanceOutcome | 'throw' = () => ({ status: 'stored' });
  delayMs = 0;

  constructor(readonly name: string, readonly batchLimits = { maxInstances: 50, maxBytes: 64 * 1024 * 1024 }) {}

  async store(study: StudyContext, instances: readonly InstanceToSend[]): Promise<Map<string, InstanceOutcome>> {
    const call = ++this.calls;
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const outcomes = new Map<string, InstanceOutcome>();
    for (const instance of instances) {
      const answer = this.answer(instance, call);
      if (answer === 'throw') throw new TransientDestinationError('connection refused (scripted)');
      const chunks: Buffer[] = [];
      for await (const chunk of instance.open() as AsyncIterable<Buffer>) chunks.push(chunk);
      if (answer.status === 'stored') this.received.push({ sopInstanceUid: instance.sopInstanceUid, serviceLevel: study.serviceLevel, sha256: sha256(Buffer.concat(chunks)) });
      outcomes.set(instance.sopInstanceUid, answer);
    }
    return outcomes;
  }

  async close(): Promise<void> {}
}

let workDir: string;
let relay: TestRelay | undefined;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-queue-'));
});
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const fast = { delivery: { initialBackoffSeconds: 0.05, maxBackoffSeconds: 0.2 }, upload: { minFreeDiskBytes: 0 } };
const study = (n: number, fields: Partial<Parameters<typeof generateStudy>[1]> = {}): Promise<GeneratedStudy> =>
  generateStudy(join(workDir, Math.random().toString(36).slice(2)), { instances: n, rows: 32, columns: 32, ...fields });

describe('delivery queue', () => {
  it('delivers every instance byte-identical, then deletes the temporary data', async () => {
    const pacs = new ScriptedDestination('pacs');
    relay = await startTestRelay(fast, { deliver: true, destinations: [pacs] });
    const s = await study(4);
    const sent = await sendStudy(relay, s);
    const status = await waitForStatus(relay, sent, allDelivered);
    expect(status.deliveries).toEqual([{ destination: 'pacs', state: 'delivered', total: 4, delivered: 4, confirmed: 0, failed: 0 }]);
    expect(status.instances.every((i) => i.deliveryState === 'delivered')).toBe(true);
    for (const instance of s.instances) {
      expect(pacs.received.find((r) => r.sopInstanceUid === instance.sopInstanceUid)?.sha256).toBe(instance.sha256);
    }
    await expect.poll(() => relay!.services.storage.listUploads()).toEqual([]);
    // The next upload of the same bytes is told they are already delivered.
    const again = await relay.services.store.uploads.alreadyDelivered([{ sopInstanceUid: s.instances[0]!.sopInstanceUid, sha256: s.instances[0]!.sha256 }]);
    expect([...again]).toEqual([s.instances[0]!.sopInstanceUid]);
  });

  it('fails only the instance the PACS refuses, with its reason, and keeps the data for a retry', async () => {
    const pacs = new ScriptedDestination('pacs');
    relay = await startTestRelay(fast, { deliver: true, destinations: [pacs] });
    const s = await study(3);
    const refused = s.instances[1]!.sopInstanceUid;
    pacs.answer = (instance) => instance.sopInstanceUid === refused
      ? { status: 'failed', permanent: true, reason: 'SOP class not supported (0122)', code: 'DICOM_0122' }
      : { status: 'stored' };
    const sent = await sendStudy(relay, s);
    const status = await waitForStatus(relay, sent, (st) => st.deliveries[0]?.state === 'failed');
    expect(status.deliveries[0]).toMatchObject({ delivered: 2, failed: 1 });
    expect(status.instances[1]).toMatchObject({ deliveryState: 'failed', destinations: [{ name: 'pacs', state: 'failed', reason: 'SOP class not supported (0122)' }] });
    expect(status.instances[0]!.deliveryState).toBe('delivered');
    // One spelling of the code: in the database, in status and as the metric's label.
    expect(status.instances[1]!.destinations[0]!.code).toBe('DICOM_0122');
    expect((await relay.services.deliveries.itemsOf(sent.uploadId)).find((item) => item.index === 1)?.failureCode).toBe('DICOM_0122');
    expect(await (await fetch(`${relay.metricsUrl}/metrics`)).text()).toMatch(/relaypacs_delivery_failures_total\{destination="pacs",reason="DICOM_0122"\} 1/);
    expect(await relay.services.storage.listUploads()).toEqual([sent.uploadId]);
    // After the PACS is fixed, a retry delivers the rest and frees the data.
    pacs.answer = () => ({ status: 'stored' });
    const retry = await fetch(`${relay.url}/upload/${sent.uploadId}/retry`, { method: 'POST', headers: { authorization: `Bearer ${sent.uploadToken}` } });
    expect(await retry.json()).toEqual({ requeued: 1 });
    await waitForStatus(relay, sent, allDelivered);
    await expect.poll(() => relay!.services.storage.listUploads()).toEqual([]);
  });

  it('retries transient failures with backoff until the PACS is back', async () => {
    const pacs = new ScriptedDestination('pacs');
    pacs.answer = (_instance, call) => (call <= 3 ? 'throw' : { status: 'stored' });
    relay = await startTestRelay(fast, { deliver: true, destinations: [pacs] });
    const sent = await sendStudy(relay, await study(2));
    const status = await waitForStatus(relay, sent, allDelivered);
    expect(pacs.calls).toBeGreaterThanOrEqual(4);
    // Three refused batches, each counted as an attempt on the instances in it.
    const attempts = status.instances.map((i) => i.destinations[0]!.attempts);
    expect(attempts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);
    expect(status.instances.every((i) => i.deliveryState === 'delivered')).toBe(true);
  });

  it('with delivery.maxAttempts, gives an instance up after that many transient failures; a retry sends it again', async () => {
    const pacs = new ScriptedDestination('pacs');
    pacs.answer = () => 'throw';
    relay = await startTestRelay({ ...fast, delivery: { ...fast.delivery, maxAttempts: 3 } }, { deliver: true, destinations: [pacs] });
    const s = await study(2);
    const sent = await sendStudy(relay, s);
    const status = await waitForStatus(relay, sent, (st) => st.deliveries[0]?.state === 'failed' && st.deliveries[0].failed === 2);
    expect(pacs.calls).toBeGreaterThanOrEqual(3);
    expect(status.instances.map((i) => i.destinations[0])).toEqual(Array(2).fill({ name: 'pacs', state: 'failed', attempts: 3, reason: 'gave up after 3 attempts: connection refused (scripted)', code: 'ATTEMPTS_EXHAUSTED' }));
    expect(status.instances.every((i) => i.deliveryState === 'failed')).toBe(true);
    const metrics = await (await fetch(`${relay.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/relaypacs_delivery_failures_total\{destination="pacs",reason="ATTEMPTS_EXHAUSTED"\} 2/);
    expect(metrics).toMatch(/relaypacs_delivery_failures_total\{destination="pacs",reason="TRANSIENT"\} [1-9]/);
    // Given up means given up: nothing more is tried, and the data waits for a retry.
    const calls = pacs.calls;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(pacs.calls).toBe(calls);
    expect(await relay.services.storage.listUploads()).toEqual([sent.uploadId]);
    // The PACS is back: the uploader's retry delivers both, with fresh attempts.
    pacs.answer = () => ({ status: 'stored' });
    const retry = await fetch(`${relay.url}/upload/${sent.uploadId}/retry`, { method: 'POST', headers: { authorization: `Bearer ${sent.uploadToken}` } });
    expect(await retry.json()).toEqual({ requeued: 2 });
    await waitForStatus(relay, sent, allDelivered);
    expect(pacs.received.map((r) => r.sopInstanceUid).sort()).toEqual(s.instances.map((i) => i.sopInstanceUid).sort());
  });

  it('stops sending what a cancelled upload had queued', async () => {
    const pacs = new ScriptedDestination('pacs');
    pacs.answer = () => 'throw';
    relay = await startTestRelay(fast, { deliver: true, destinations: [pacs] });
    const s = await study(2);
    const client = new TestUploadClient(relay.url);
    const init = await client.init(await relay.tokenFor('radiographer'), {
      study: { studyInstanceUid: s.studyInstanceUid, serviceLevel: 'ROUTINE' },
      instances: await manifestFor(s.instances.map((i) => i.path), s.instances.map((i) => i.sopInstanceUid), s.instances[0]!.sopClassUid),
    });
    // The first instance is verified and queued while the second has not arrived.
    await client.sendFile(init.body.uploadId, init.body.uploadToken, 0, await readFile(s.instances[0]!.path), 64 * 1024);
    await expect.poll(() => pacs.calls).toBeGreaterThan(1);
    expect((await client.request('DELETE', `/upload/${init.body.uploadId}`, init.body.uploadToken)).status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const callsAfterCancel = pacs.calls;
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(pacs.calls).toBe(callsAfterCancel);
  });

  it('routes by rule: CT to both destinations, MR to the archive only', async () => {
    const pacs = new ScriptedDestination('pacs');
    const archive = new ScriptedDestination('archive');
    relay = await startTestRelay({
      ...fast,
      destinations: [{ name: 'pacs', kind: 'folder', directory: join(workDir, 'unused-pacs') }, { name: 'archive', kind: 'folder', directory: join(workDir, 'unused-archive') }],
      routes: [
        { name: 'ct', match: { modality: ['CT'] }, destinations: ['pacs', 'archive'] },
        { name: 'mr', match: { modality: ['MR'] }, destinations: ['archive'] },
      ],
    }, { deliver: true, destinations: [pacs, archive] });
    const ct = await sendStudy(relay, await study(2, { modality: 'CT' }));
    const mr = await sendStudy(relay, await study(2, { modality: 'MR' }));
    const ctStatus = await waitForStatus(relay, ct, allDelivered);
    const mrStatus = await waitForStatus(relay, mr, allDelivered);
    expect(ctStatus.deliveries.map((d) => d.destination)).toEqual(['pacs', 'archive']);
    expect(mrStatus.deliveries.map((d) => d.destination)).toEqual(['archive']);
    expect(pacs.received).toHaveLength(2);
    expect(archive.received).toHaveLength(4);
  });

  it('sends a STAT study before routine work already queued', async () => {
    const pacs = new ScriptedDestination('pacs', { maxInstances: 2, maxBytes: 64 * 1024 * 1024 });
    pacs.delayMs = 150;
    // One batch at a time, so the order the PACS sees is the order batches were started.
    relay = await startTestRelay({ ...fast, delivery: { ...fast.delivery, parallelBatches: 1 } }, { deliver: false, realTime: true, destinations: [pacs] });
    const routine = await sendStudy(relay, await study(12));
    const stat = await sendStudy(relay, await study(2), { serviceLevel: 'STAT' });
    await relay.services.deliveries.start();
    await waitForStatus(relay, routine, allDelivered);
    await waitForStatus(relay, stat, allDelivered);
    const order = pacs.received.map((r) => r.serviceLevel);
    // Queued after the routine study, the STAT study still goes first.
    expect(order.slice(0, 2)).toEqual(['STAT', 'STAT']);
    expect(order.filter((l) => l === 'ROUTINE')).toHaveLength(12);
  });

  it('gathers a study still arriving into full batches, and sends the rest as soon as it is complete', async () => {
    const pacs = new ScriptedDestination('pacs');
    relay = await startTestRelay({ ...fast, delivery: { ...fast.delivery, gatherMs: 5_000 } }, { deliver: true, destinations: [pacs] });
    const sent = await sendStudy(relay, await study(20));
    const completed = performance.now();
    await waitForStatus(relay, sent, allDelivered);
    // Well within gatherMs of the last instance: /complete ended the gathering.
    expect(performance.now() - completed).toBeLessThan(2_500);
    expect(pacs.received).toHaveLength(20);
    expect(pacs.calls).toBe(1);
  });

  it('without gathering, sends instances as they are verified', async () => {
    const pacs = new ScriptedDestination('pacs');
    relay = await startTestRelay({ ...fast, delivery: { ...fast.delivery, gatherMs: 0 } }, { deliver: true, destinations: [pacs] });
    const sent = await sendStudy(relay, await study(20));
    await waitForStatus(relay, sent, allDelivered);
    expect(pacs.received).toHaveLength(20);
    expect(pacs.calls).toBeGreaterThan(1);
  });

  it('sends delivery.parallelBatches batches to one destination at once, never the same instance twice', async () => {
    for (const parallelBatches of [1, 3]) {
      const pacs = new ScriptedDestination('pacs', { maxInstances: 2, maxBytes: 64 * 1024 * 1024 });
      let inFlight = 0;
      let most = 0;
      const store = pacs.store.bind(pacs);
      pacs.store = async (context, instances) => {
        most = Math.max(most, ++inFlight);
        try {
          return await store(context, instances);
        } finally {
          inFlight--;
        }
      };
      pacs.delayMs = 100;
      relay = await startTestRelay({ ...fast, delivery: { ...fast.delivery, parallelBatches } }, { deliver: false, realTime: true, destinations: [pacs] });
      const s = await study(12);
      const sent = await sendStudy(relay, s);
      await relay.services.deliveries.start();
      await waitForStatus(relay, sent, allDelivered);
      expect(most).toBe(parallelBatches);
      expect(pacs.received.map((r) => r.sopInstanceUid).sort()).toEqual(s.instances.map((i) => i.sopInstanceUid).sort());
      await relay.close();
      relay = undefined;
    }
  });

  it('streams lifecycle events to the uploader over SSE', async () => {
    const pacs = new ScriptedDestination('pacs');
    relay = await startTestRelay(fast, { deliver: true, destinations: [pacs] });
    const token = await relay.tokenFor('radiographer');
    const controller = new AbortController();
    const response = await fetch(`${relay.url}/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = response.body!.getReader();
    let text = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += Buffer.from(value).toString();
      }
    })().catch(() => undefined);
    const sent = await sendStudy(relay, await study(1), {}, token);
    await waitForStatus(relay, sent, allDelivered);
    await expect.poll(() => text).toContain('event: delivered');
    controller.abort();
    await reading;
    for (const type of ['received', 'validated', 'forwarding', 'accepted', 'delivered']) expect(text).toContain(`event: ${type}\n`);
    expect(text).toContain(sent.uploadId);
    // The stream is for signed-in users only.
    expect((await fetch(`${relay.url}/events`)).status).toBe(401);
  });
});

describe('a database that refuses writes for a while', () => {
  /** A second connection to the relay's real SQLite file makes every update of a delivery item fail until `restore()`. */
  function refuseItemUpdates(dataDir: string): { restore(): void } {
    const other = new Database(join(dataDir, 'relay.db'));
    other.exec(`CREATE TRIGGER refuse_item_updates BEFORE UPDATE ON delivery_items BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END`);
    return {
      restore() {
        other.exec('DROP TRIGGER refuse_item_updates');
        other.close();
      },
    };
  }

  it('records the outcome it could not commit once the database takes writes again, without a restart', async () => {
    const pacs = new ScriptedDestination('pacs');
    relay = await startTestRelay(fast, { deliver: true, destinations: [pacs] });
    const dataDir = relay.dataDir;
    let refusal: { restore(): void } | undefined;
    // The PACS stores the batch; while it does, the database starts refusing the commit of that outcome, for 3 s.
    pacs.answer = () => {
      if (!refusal) {
        refusal = refuseItemUpdates(dataDir);
        setTimeout(() => refusal!.restore(), 3_000);
      }
      return { status: 'stored' };
    };
    const s = await study(3);
    const sent = await sendStudy(relay, s);
    const status = await waitForStatus(relay, sent, allDelivered, 15_000);
    expect(status.deliveries[0]).toMatchObject({ delivered: 3, failed: 0 });
    // Sent once: the outcome was recorded, not the batch sent again.
    expect(pacs.received.map((r) => r.sopInstanceUid).sort()).toEqual(s.instances.map((i) => i.sopInstanceUid).sort());
    await expect.poll(() => relay!.services.storage.listUploads()).toEqual([]);
  });

  it('queues again, while it runs, items left sending by no worker', async () => {
    const pacs = new ScriptedDestination('pacs');
    pacs.answer = () => 'throw';
    // A retry waits 30 s or more: only the watchdog can get the items going within the test.
    relay = await startTestRelay({ ...fast, delivery: { initialBackoffSeconds: 60, maxBackoffSeconds: 60, sendingLeaseSeconds: 1 } }, { deliver: true, destinations: [pacs] });
    const s = await study(2);
    const sent = await sendStudy(relay, s);
    await waitForStatus(relay, sent, (st) => st.instances.every((i) => i.destinations[0]?.attempts === 1 && i.destinations[0].state === 'queued'));
    pacs.answer = () => ({ status: 'stored' });
    // The items are marked 'sending' behind the relay's back, as a worker that lost them would leave them.
    const other = new Database(join(relay.dataDir, 'relay.db'));
    try {
      other.exec(`UPDATE delivery_items SET state = 'sending'`);
    } finally {
      other.close();
    }
    await waitForStatus(relay, sent, allDelivered, 10_000);
  });

  it('leaves items another relay is sending alone at start, and sends them once that relay\'s lease lapses', async () => {
    const pacs = new ScriptedDestination('pacs');
    relay = await startTestRelay({ ...fast, delivery: { ...fast.delivery, sendingLeaseSeconds: 1 } }, { deliver: false, realTime: true, destinations: [pacs] });
    const sent = await sendStudy(relay, await study(2));
    await waitForStatus(relay, sent, (st) => st.instances.every((i) => i.destinations[0]?.state === 'queued'));
    // Another relay on the same database claimed both items, and its lease runs 2 s more.
    const leaseEnds = relay.now().getTime() + 2_000;
    relay.db.prepare(`UPDATE delivery_items SET state = 'sending', owner = 'other-relay', lease_until = ?`).run(new Date(leaseEnds).toISOString());
    await relay.services.deliveries.start();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(pacs.received).toHaveLength(0);
    await waitForStatus(relay, sent, allDelivered, 10_000);
    expect(relay.now().getTime()).toBeGreaterThanOrEqual(leaseEnds);
    expect(pacs.received).toHaveLength(2);
  });
});

describe('out of space while deliveries free it', () => {
  it('answers 507 and /readyz 503 with a short Retry-After while an accepted study is being delivered, a long one after', async () => {
    const pacs = new ScriptedDestination('pacs');
    pacs.delayMs = 3_000;
    relay = await startTestRelay(fast, { deliver: true, destinations: [pacs] });
    const sent = await sendStudy(relay, await study(2));
    // The disk is below the floor from now on (the floor is raised on the running relay's config).
    relay.services.config.upload.minFreeDiskBytes = Number.MAX_SAFE_INTEGER;
    const client = new TestUploadClient(relay.url);
    const token = await relay.tokenFor('device');
    const init = () => client.init(token, { study: { studyInstanceUid: '2.25.77', serviceLevel: 'ROUTINE' }, instances: [{ sopInstanceUid: '2.25.78', sopClassUid: '1.2.840.10008.5.1.4.1.1.2', size: 10, sha256: 'a'.repeat(64) }] });
    const retryAfter = async () => {
      const refused = await init();
      const ready = await fetch(`${relay!.url}/readyz?bytes=10`);
      expect([refused.status, ready.status]).toEqual([507, 503]);
      return [(refused.body as unknown as { error: { retryAfterSeconds: number } }).error.retryAfterSeconds, Number(ready.headers.get('retry-after'))];
    };
    // The PACS is storing the study: its data goes within seconds.
    expect(await retryAfter()).toEqual([10, 10]);
    await waitForStatus(relay, sent, allDelivered);
    // Nothing is being delivered: space comes back only when someone frees it.
    expect(await retryAfter()).toEqual([300, 300]);
  });
});

describe('default destination', () => {
  it('delivers to a local folder under the data directory when no PACS is configured', async () => {
    relay = await startTestRelay(fast, { deliver: true });
    const s = await study(2);
    const sent = await sendStudy(relay, s);
    await waitForStatus(relay, sent, allDelivered);
    for (const instance of s.instances) {
      const delivered = await readFile(join(relay.dataDir, 'delivered', s.studyInstanceUid, `${instance.sopInstanceUid}.dcm`));
      expect(sha256(delivered)).toBe(instance.sha256);
    }
  });
});

describe('audit trail', () => {
  it('records who uploaded which study, where it went and how it ended, exported as CSV and JSON for admins', async () => {
    const pacs = new ScriptedDestination('pacs');
    relay = await startTestRelay(fast, { deliver: true, destinations: [pacs] });
    const s = await study(2);
    const sent = await sendStudy(relay, s, { sourceWorkstation: 'CT-EAST-2' });
    await waitForStatus(relay, sent, allDelivered);
    const admin = await relay.tokenFor('admin');
    const json = await (await fetch(`${relay.url}/admin/audit`, { headers: { authorization: `Bearer ${admin}` } })).json() as { entries: { action: string; target: string; outcome: string; address: string | null }[] };
    const ofUpload = json.entries.filter((e) => e.target?.includes(sent.uploadId));
    // One delivery row per destination when its delivery ends, and one for the study once it ended everywhere.
    await expect.poll(async () => (await (await fetch(`${relay!.url}/admin/audit`, { headers: { authorization: `Bearer ${admin}` } })).json() as typeof json).entries
      .filter((e) => e.target?.includes(sent.uploadId)).map((e) => [e.action, e.outcome])).toEqual([
      ['upload-start', 'success'], ['upload-complete', 'success'], ['delivery', 'delivered 2'], ['delivery', 'study delivered'],
    ]);
    expect(ofUpload[0]!.target).toContain(s.studyInstanceUid);
    expect(ofUpload[0]!.target).toContain('CT-EAST-2');
    expect(ofUpload[0]!.address).toBe('127.0.0.1');
    await expect.poll(async () => (await (await fetch(`${relay!.url}/admin/audit`, { headers: { authorization: `Bearer ${admin}` } })).json() as typeof json).entries.find((e) => e.action === 'delivery')?.outcome).toBe('delivered 2');
    const csv = await fetch(`${relay.url}/admin/audit?format=csv`, { headers: { authorization: `Bearer ${admin}` } });
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const text = await csv.text();
    expect(text.split('\r\n')[0]).toBe('id,at,actor_user_id,action,target,address,outcome');
    expect(text).toContain(`upload ${sent.uploadId} study ${s.studyInstanceUid} to pacs`);
    // The export never carries patient demographics.
    expect(text).not.toContain(s.patient.name);
    expect(text).not.toContain(s.patient.id);
    const radiographer = await relay.tokenFor('radiographer');
    expect((await fetch(`${relay.url}/admin/audit`, { headers: { authorization: `Bearer ${radiographer}` } })).status).toBe(403);
  });

  it('exposes per-destination metrics', async () => {
    const pacs = new ScriptedDestination('pacs');
    relay = await startTestRelay(fast, { deliver: true, destinations: [pacs] });
    await waitForStatus(relay, await sendStudy(relay, await study(3)), allDelivered);
    const metrics = await (await fetch(`${relay.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/relaypacs_delivered_instances_total\{destination="pacs"\} 3/);
    expect(metrics).toMatch(/relaypacs_delivery_queue_depth\{destination="pacs"\} 0/);
    expect(metrics).toMatch(/relaypacs_delivery_batch_duration_seconds_count\{destination="pacs"\} \d+/);
  });
});
