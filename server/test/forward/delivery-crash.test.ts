// The relay killed with SIGKILL while forwarding: after a restart it resumes delivery, and every
// instance ends in Orthanc exactly once. Real binary, real SQLite queue, real Orthanc.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, OrthancServer, relayUserCommand, spawnRelay } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { UploadStatus } from '../../src/protocol/upload-protocol.js';
import { manifestFor, TestUploadClient } from '../support/upload-client.js';

let orthanc: OrthancServer;
let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-forward-crash-'));
  orthanc = await OrthancServer.start();
});
afterAll(async () => {
  await orthanc?.stop();
  await rm(workDir, { recursive: true, force: true });
});

async function status(client: TestUploadClient, uploadId: string, token: string): Promise<UploadStatus> {
  return (await client.request('GET', `/upload/${uploadId}/status`, token)).body as unknown as UploadStatus;
}

it('resumes forwarding after kill -9 and stores every instance exactly once', async () => {
  const dataDir = join(workDir, 'data');
  const configFile = join(workDir, 'relay.json');
  await writeFile(configFile, JSON.stringify({
    upload: { minFreeDiskBytes: 0 },
    delivery: { initialBackoffSeconds: 0.1, maxBackoffSeconds: 0.5 },
    destinations: [{ name: 'orthanc', kind: 'stow-rs', url: orthanc.dicomWebUrl, maxInstancesPerRequest: 1 }],
  }));
  expect((await relayUserCommand(dataDir, ['add', 'mri-console', '--role', 'device', '--password-stdin'], 'console secret 42\n')).code).toBe(0);
  const study = await generateStudy(join(workDir, 'study'), { instances: 60, rows: 256, columns: 256 });
  const env = { RELAYPACS_CONFIG: configFile };

  let relay = await spawnRelay(dataDir, join(workDir, 'relay-1.log'), env);
  let client = new TestUploadClient(relay.url);
  const login = await (await fetch(`${relay.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'mri-console', password: 'console secret 42' }) })).json() as { accessToken: string };
  const init = await client.init(login.accessToken, {
    study: { studyInstanceUid: study.studyInstanceUid, serviceLevel: 'ROUTINE' },
    instances: await manifestFor(study.instances.map((i) => i.path), study.instances.map((i) => i.sopInstanceUid), study.instances[0]!.sopClassUid),
  });
  const { uploadId, uploadToken } = init.body;
  // Forwarding starts as instances are verified; with Orthanc down they queue up, so the kill
  // below lands in the middle of forwarding rather than after it.
  await orthanc.pause();
  for (const [index, instance] of study.instances.entries()) await client.sendFile(uploadId, uploadToken, index, await readFile(instance.path), 1024 * 1024);
  expect((await client.request('POST', `/upload/${uploadId}/complete`, uploadToken)).status).toBe(200);

  await orthanc.resume();
  // Kill the relay once some, but not all, instances have reached Orthanc.
  await expect.poll(() => orthanc.countInstances(), { timeout: 20_000, interval: 20 }).toBeGreaterThanOrEqual(3);
  process.kill(relay.process.pid!, 'SIGKILL');
  await relay.process.exited;
  const atKill = await orthanc.countInstances();
  expect(atKill).toBeLessThan(60);

  relay = await spawnRelay(dataDir, join(workDir, 'relay-2.log'), env);
  client = new TestUploadClient(relay.url);
  await expect.poll(async () => (await status(client, uploadId, uploadToken)).deliveries[0]?.state, { timeout: 30_000, interval: 200 }).toBe('delivered');
  await relay.process.stop();

  const held = await orthanc.listInstances();
  expect(held).toHaveLength(60);
  expect(new Set(held.map((i) => i.sopInstanceUid))).toEqual(new Set(study.instances.map((i) => i.sopInstanceUid)));
}, 120_000);
