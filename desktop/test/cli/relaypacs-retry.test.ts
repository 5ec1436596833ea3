// `relaypacs retry` of a study the PACS did not take: the real relay binary (giving a delivery up
// after two attempts) forwarding to a real Orthanc that is stopped while the study is sent, the
// agent as a child process signed in through a real gnome-keyring.
import { join } from 'node:path';
import { generateStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { expectedUntouched, jobNow, plantJobs, RETRIED, UNTOUCHED } from '../core/upload/queue-fixture.js';
import { AgentWorld } from './agent-harness.js';

let world: AgentWorld;

beforeAll(async () => {
  world = await AgentWorld.start('relaypacs-cli-retry-', { delivery: { maxAttempts: 2 } });
  const login = await world.login();
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

interface Outcome { jobId: number; state: string; uploadId: string; instances: { state: string; reason?: string }[] }

it('retries through the relay: the failed deliveries go again, no byte is sent again, Orthanc ends with every instance once', async () => {
  const study = await generateStudy(join(world.workDir, 'study'), { instances: 4, series: 2, rows: 64, columns: 64 });
  await world.orthanc.pause();
  let failed: Outcome;
  try {
    const upload = await world.agent(['upload', join(world.workDir, 'study'), '--wait', '--json']);
    expect(upload.code, upload.stderr).toBe(1);
    failed = (JSON.parse(upload.stdout.trim().split('\n').at(-1)!) as { jobs: Outcome[] }).jobs[0]!;
  } finally {
    await world.orthanc.resume();
  }
  expect(failed).toMatchObject({ state: 'failed' });
  expect(failed.instances.map((i) => i.state)).toEqual(Array(4).fill('failed'));
  expect(failed.instances[0]!.reason).toMatch(/^gave up after 2 attempts: /);
  const relayRecord = () => world.withRelayDb((db) => db.prepare(`SELECT COUNT(DISTINCT u.id) AS uploads, COUNT(c.upload_id) AS chunks
    FROM uploads u LEFT JOIN upload_chunks c ON c.upload_id = u.id WHERE u.study_instance_uid = ?`).get(study.studyInstanceUid));
  const before = relayRecord();
  expect(before).toMatchObject({ uploads: 1 });

  const retry = await world.agent(['retry', String(failed.jobId), '--wait', '--json']);
  expect(retry.code, retry.stderr).toBe(0);
  const outcome = (JSON.parse(retry.stdout.trim().split('\n').at(-1)!) as { jobs: Outcome[] }).jobs[0]!;
  expect(outcome).toMatchObject({ jobId: failed.jobId, state: 'confirmed', uploadId: failed.uploadId });
  // The relay's retry queued the deliveries again: no second upload, no new chunk.
  expect(relayRecord()).toEqual(before);
  expect(world.withRelayDb((db) => db.prepare(`SELECT COUNT(*) AS n FROM audit_log WHERE action = 'upload-retry'`).get())).toEqual({ n: 1 });
  const held = await world.heldInOrthanc(study);
  expect(held.sort()).toEqual(study.instances.map((i) => i.sopInstanceUid).sort());
}, 120_000);

it('retry --all retries what the desktop\'s Retry all does: failed jobs and jobs backing off, never delivered, confirmed, cancelled or paused ones', async () => {
  const dataDir = join(world.workDir, 'agent');
  const planted = plantJobs(dataDir, '1.2.826.0.1.3680043.99.72');
  const retry = await world.agent(['retry', '--all', '--json']);
  // The planted studies are not in the catalog: what was retried fails again (exit 1), with that reason.
  expect(retry.code, retry.stderr).toBe(1);
  const outcomes = (JSON.parse(retry.stdout.trim().split('\n').at(-1)!) as { jobs: (Outcome & { error?: { code: string } })[] }).jobs;
  expect(outcomes.map((o) => o.jobId).sort()).toEqual(RETRIED.map((name) => planted[name]).sort());
  expect(outcomes.every((o) => o.state === 'failed' && o.error?.code === 'INVALID_REQUEST')).toBe(true);
  const untouched = Object.fromEntries(UNTOUCHED.map((name) => [name, (({ state, errorCode }) => ({ state, errorCode }))(jobNow(dataDir, planted[name]))]));
  expect(untouched).toEqual(expectedUntouched());
}, 60_000);
