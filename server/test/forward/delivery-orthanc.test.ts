// Forwarding to a real Orthanc: delivered byte-identical and confirmed through QIDO-RS; Orthanc
// down mid-study and back; two destinations. The relay runs in-process with its real queue.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, OrthancServer } from '@relaypacs/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../support/test-relay.js';
import { allDelivered, sendStudy, waitForStatus } from '../support/upload-flow.js';
import { manifestFor, sha256, TestUploadClient } from '../support/upload-client.js';

let orthanc: OrthancServer;
let workDir: string;
let relay: TestRelay | undefined;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-forward-'));
  orthanc = await OrthancServer.start();
});
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});
afterAll(async () => {
  await orthanc?.stop();
  await rm(workDir, { recursive: true, force: true });
});

const fast = { initialBackoffSeconds: 0.1, maxBackoffSeconds: 0.5 };

describe('forwarding to Orthanc', () => {
  it('delivers a study through STOW-RS, confirms it through QIDO-RS, and Orthanc holds identical bytes', async () => {
    relay = await startTestRelay({
      upload: { minFreeDiskBytes: 0 }, delivery: fast,
      destinations: [{ name: 'orthanc', kind: 'stow-rs', url: orthanc.dicomWebUrl, confirm: true }],
    }, { deliver: true });
    const study = await generateStudy(join(workDir, 'a'), { instances: 5, series: 2, rows: 64, columns: 64 });
    const sent = await sendStudy(relay, study);
    const status = await waitForStatus(relay, sent, (s) => s.deliveries[0]?.state === 'confirmed');
    expect(status.deliveries).toEqual([{ destination: 'orthanc', state: 'confirmed', total: 5, delivered: 0, confirmed: 5, failed: 0 }]);
    for (const instance of study.instances) {
      const id = await orthanc.findInstance(instance.sopInstanceUid);
      expect(id, instance.sopInstanceUid).toBeDefined();
      expect(sha256(await orthanc.instanceFile(id!))).toBe(sha256(await readFile(instance.path)));
    }
  });

  it('forwards instances as soon as they are verified, before the upload is even completed', async () => {
    relay = await startTestRelay({
      upload: { minFreeDiskBytes: 0 }, delivery: fast,
      destinations: [{ name: 'orthanc', kind: 'stow-rs', url: orthanc.dicomWebUrl }],
    }, { deliver: true });
    const study = await generateStudy(join(workDir, 'early'), { instances: 4, rows: 64, columns: 64 });
    const client = new TestUploadClient(relay.url);
    const init = await client.init(await relay.tokenFor('radiographer'), {
      study: { studyInstanceUid: study.studyInstanceUid, serviceLevel: 'STAT' },
      instances: await manifestFor(study.instances.map((i) => i.path), study.instances.map((i) => i.sopInstanceUid), study.instances[0]!.sopClassUid),
    });
    for (const [index, instance] of study.instances.entries()) {
      await client.sendFile(init.body.uploadId, init.body.uploadToken, index, await readFile(instance.path), 64 * 1024);
    }
    // No /complete yet: the instances reach the PACS anyway.
    for (const instance of study.instances) {
      await expect.poll(() => orthanc.findInstance(instance.sopInstanceUid), { timeout: 10_000, interval: 100 }).toBeDefined();
    }
  });

  it('keeps retrying while Orthanc is down and completes once it is back', async () => {
    relay = await startTestRelay({
      upload: { minFreeDiskBytes: 0 }, delivery: fast,
      destinations: [{ name: 'orthanc', kind: 'stow-rs', url: orthanc.dicomWebUrl, maxInstancesPerRequest: 2 }],
    }, { deliver: true });
    const study = await generateStudy(join(workDir, 'b'), { instances: 6, rows: 64, columns: 64 });
    await orthanc.pause();
    let sent;
    try {
      sent = await sendStudy(relay, study);
      const failing = await waitForStatus(relay, sent, (s) => s.instances.some((i) => (i.destinations[0]?.attempts ?? 0) >= 2));
      expect(failing.deliveries[0]!.state).toBe('forwarding');
      expect(failing.instances[0]!.destinations[0]!.reason).toBeTruthy();
    } finally {
      await orthanc.resume();
    }
    await waitForStatus(relay, sent, allDelivered);
    for (const instance of study.instances) expect(await orthanc.findInstance(instance.sopInstanceUid)).toBeDefined();
  });

  it('stores a STAT study in Orthanc before routine work that was queued first', async () => {
    // One batch at a time: with two, a routine batch would be stored beside the STAT one.
    relay = await startTestRelay({
      upload: { minFreeDiskBytes: 0 }, delivery: { ...fast, parallelBatches: 1 },
      destinations: [{ name: 'orthanc', kind: 'stow-rs', url: orthanc.dicomWebUrl, maxInstancesPerRequest: 2 }],
    }, { deliver: false, realTime: true });
    const routine = await generateStudy(join(workDir, 'routine'), { instances: 12, rows: 64, columns: 64 });
    const stat = await generateStudy(join(workDir, 'stat'), { instances: 2, rows: 64, columns: 64 });
    const routineSent = await sendStudy(relay, routine);
    const statSent = await sendStudy(relay, stat, { serviceLevel: 'STAT' });
    const since = (await orthanc.json<{ Last: number }>('/changes?last')).Last;
    await relay.services.deliveries.start();
    await waitForStatus(relay, routineSent, allDelivered);
    await waitForStatus(relay, statSent, allDelivered);
    // Orthanc's change log numbers instances in the order they were stored.
    const changes = await orthanc.json<{ Changes: { ChangeType: string; ID: string; Seq: number }[] }>(`/changes?since=${since}&limit=1000`);
    const order = new Map<string, number>();
    for (const change of changes.Changes.filter((c) => c.ChangeType === 'NewInstance')) {
      const tags = await orthanc.instanceTags(change.ID) as { SOPInstanceUID: string };
      order.set(tags.SOPInstanceUID, change.Seq);
    }
    const statSeqs = stat.instances.map((i) => order.get(i.sopInstanceUid)!);
    const routineSeqs = routine.instances.map((i) => order.get(i.sopInstanceUid)!);
    expect(Math.max(...statSeqs)).toBeLessThan(Math.min(...routineSeqs));
  });

  it('sends to two destinations: Orthanc through STOW-RS and a local archive folder', async () => {
    const archive = join(workDir, 'archive');
    relay = await startTestRelay({
      upload: { minFreeDiskBytes: 0 }, delivery: fast,
      destinations: [
        { name: 'orthanc', kind: 'stow-rs', url: orthanc.dicomWebUrl },
        { name: 'archive', kind: 'folder', directory: archive },
      ],
      routes: [{ match: { serviceLevel: ['STAT'] }, destinations: ['orthanc', 'archive'] }],
    }, { deliver: true });
    const study = await generateStudy(join(workDir, 'c'), { instances: 3, rows: 64, columns: 64 });
    const sent = await sendStudy(relay, study, { serviceLevel: 'STAT' });
    const status = await waitForStatus(relay, sent, allDelivered);
    expect(status.deliveries.map((d) => [d.destination, d.state])).toEqual([['orthanc', 'delivered'], ['archive', 'delivered']]);
    for (const instance of study.instances) {
      expect(await orthanc.findInstance(instance.sopInstanceUid)).toBeDefined();
      expect(sha256(await readFile(join(archive, study.studyInstanceUid, `${instance.sopInstanceUid}.dcm`)))).toBe(instance.sha256);
    }
  });
});
