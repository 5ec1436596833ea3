// Scale-out: three relays behind a round-robin balancer (the test kit's, haproxy's roundrobin with
// redispatch), sharing one PostgreSQL and one S3 bucket (Swift's s3api), delivering into Orthanc,
// with the agent uploading through the balancer. Faults: kill -9 of one relay mid-upload (it comes
// back on its port), kill -9 of one relay mid-forward while Orthanc is paused (it stays dead: another
// relay sends its items once their lease lapses), and PostgreSQL restarted mid-upload. Every
// instance must end in Orthanc exactly once, byte-identical, and no chunk object may be left in the
// bucket once every study is delivered.
import { randomInt } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  ManagedProcess, PostgresServer, RELAY_BIN, RoundRobinBalancer, SwiftS3Server, freeLoopbackPort, generateStudy, relayUserCommand, waitUntilReady,
  type GeneratedStudy,
} from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { canaryPatient, recordResult, SHORT } from './canary.js';
import { DEVICE, FaultWorld, sleep, type AgentRun } from './fault-world.js';

const RELAYS = 3;
const BUCKET = 'relaypacs-scale-faults';
const STUDY = { instances: SHORT ? 24 : 60, series: 2, rows: 256, columns: 256 };
/** A lease short enough that a dead relay's deliveries are taken over within the test. */
const LEASE_SECONDS = 3;

let world: FaultWorld;
let postgres: PostgresServer;
let swift: SwiftS3Server;
let balancer: RoundRobinBalancer;
const relays: { process: ManagedProcess; port: number; dataDir: string; lives: number }[] = [];
let relayEnv: NodeJS.ProcessEnv;
const results: Record<string, unknown> = {};

beforeAll(async () => {
  // The world gives Orthanc, the keyring, the agent and its log folder; its own relay is stopped:
  // the three below, on the shared engines, take its place.
  world = await FaultWorld.start('scale-out', { relayConfig: { delivery: { sendingLeaseSeconds: LEASE_SECONDS } } });
  await world.relay.stop();
  [postgres, swift] = await Promise.all([PostgresServer.start(), SwiftS3Server.start()]);
  await swift.createBucket(BUCKET);
  relayEnv = {
    ...process.env, RELAYPACS_LOG_LEVEL: 'info', RELAYPACS_CONFIG: world.agentEnv.RELAYPACS_CONFIG!,
    RELAYPACS_DATABASE_URL: postgres.url,
    RELAYPACS_STORAGE_URL: `s3://${BUCKET}/faults?endpoint=${encodeURIComponent(swift.endpoint)}&region=${swift.region}&forcePathStyle=true`,
    AWS_ACCESS_KEY_ID: swift.accessKeyId, AWS_SECRET_ACCESS_KEY: swift.secretAccessKey,
  };
  for (let n = 0; n < RELAYS; n++) {
    const dataDir = join(world.workDir, `relay-${n + 1}`);
    await mkdir(dataDir, { recursive: true });
    relays.push({ process: undefined as never, port: await freeLoopbackPort(), dataDir, lives: 0 });
  }
  const added = await relayUserCommand(relays[0]!.dataDir, ['add', DEVICE.user, '--role', 'device', '--password-stdin', '--database-url', postgres.url], `${DEVICE.password}\n`);
  if (added.code !== 0) throw new Error(`could not add the device account: ${added.stderr}`);
  await Promise.all(relays.map((_, n) => startRelay(n)));
  balancer = await RoundRobinBalancer.start(relays.map((r) => r.port));
  const login = await world.agent(['login', '--relay', balancer.url, '--user', DEVICE.user, '--password-stdin'], `${DEVICE.password}\n`);
  if (login.code !== 0) throw new Error(`agent login failed: ${login.stderr}`);
}, 180_000);

afterAll(async () => {
  await balancer?.stop();
  await Promise.allSettled(relays.map((r) => r.process?.stop()));
  await Promise.allSettled([postgres?.stop(), swift?.stop()]);
  await world?.stop();
  if (Object.keys(results).length > 0) await recordResult('scale-out-faults', results);
}, 120_000);

/** Starts relay `n` (again) on its port: each life logs to its own file, for the PHI canary. */
async function startRelay(n: number): Promise<void> {
  const relay = relays[n]!;
  relay.process = new ManagedProcess({
    command: process.execPath,
    args: [RELAY_BIN, '--data', relay.dataDir, '--port', String(relay.port), '--host', '127.0.0.1'],
    logPath: join(world.logDir, `relay-${n + 1}-${++relay.lives}.log`),
    env: { ...relayEnv, RELAYPACS_METRICS_PORT: 'off', RELAYPACS_INSTANCE_NAME: `relay-${n + 1}` },
  });
  await waitUntilReady(relay.process, async () => (await fetch(`http://127.0.0.1:${relay.port}/healthz`)).ok, 60_000, `relay-${n + 1}`);
}

async function newStudy(label: string): Promise<{ study: GeneratedStudy; dir: string }> {
  const dir = join(world.workDir, label);
  return { study: await generateStudy(dir, { ...STUDY, patient: canaryPatient() }), dir };
}

async function finished(agent: AgentRun): Promise<void> {
  const exit = await agent.exited;
  expect(exit.code, `${agent.stdout.slice(-2000)}\n${agent.stderr.slice(-2000)}`).toBe(0);
}


/** Chunk objects still in the bucket (every study delivered: none should be). */
async function objectsLeft(): Promise<number> {
  const page = await (await swift.client()).send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'faults/uploads/' }));
  return page.KeyCount ?? 0;
}

it('kill -9 of one relay mid-upload, and PostgreSQL restarted mid-upload: every instance in Orthanc once, byte-identical', async () => {
  const studies: GeneratedStudy[] = [];
  const kills = SHORT ? 2 : 6;
  const delays: number[] = [];
  for (let k = 0; k < kills; k++) {
    const next = await newStudy(`upload-kill-${k}`);
    studies.push(next.study);
    const agent = world.spawnAgent(['upload', next.dir, '--wait']);
    const delay = randomInt(300, 1_500);
    delays.push(delay);
    await sleep(delay);
    const victim = k % RELAYS;
    process.kill(relays[victim]!.process.pid!, 'SIGKILL');
    await relays[victim]!.process.exited;
    await startRelay(victim);
    await finished(agent);
  }
  // PostgreSQL goes away for a moment while a study is arriving: relays answer 503, the agent retries.
  const next = await newStudy('upload-postgres-restart');
  studies.push(next.study);
  const agent = world.spawnAgent(['upload', next.dir, '--wait']);
  await sleep(800);
  // Killed (as a crash or a failover does), down for a second, then back.
  await postgres.kill();
  await sleep(1_000);
  await postgres.restart();
  await finished(agent);
  const outcome = await world.tally(studies);
  results.upload = { relays: RELAYS, kills, delaysMs: delays, postgresRestarts: 1, studies: studies.length, ...outcome };
  console.log(`scale-out faults (upload): ${JSON.stringify(results.upload)}`);
  expect(outcome).toMatchObject({ lost: 0, duplicated: 0, mismatched: 0 });
  await expect.poll(objectsLeft, { timeout: 20_000 }).toBe(0);
}, 300_000);

it('kill -9 of one relay mid-forward while Orthanc is paused: another relay delivers its items once the lease lapses', async () => {
  const next = await newStudy('forward-kill');
  // Orthanc takes nothing: forwarding hangs in every relay, items stay 'sending' under their leases.
  const orthancPid = world.orthanc.pid!;
  process.kill(orthancPid, 'SIGSTOP');
  let paused = true;
  try {
    const agent = world.spawnAgent(['upload', next.dir, '--wait']);
    // Until the relays hold the whole study and are forwarding it.
    await sleep(SHORT ? 4_000 : 8_000);
    const victim = 1;
    process.kill(relays[victim]!.process.pid!, 'SIGKILL');
    await relays[victim]!.process.exited;
    balancer.setTargets(relays.filter((_, n) => n !== victim).map((r) => r.port));
    process.kill(orthancPid, 'SIGCONT');
    paused = false;
    await finished(agent);
    const outcome = await world.tally([next.study]);
    results.forward = { relays: RELAYS, leaseSeconds: LEASE_SECONDS, deadRelayRestarted: false, ...outcome };
    console.log(`scale-out faults (forward): ${JSON.stringify(results.forward)}`);
    expect(outcome).toMatchObject({ lost: 0, duplicated: 0, mismatched: 0 });
    await expect.poll(objectsLeft, { timeout: 20_000 }).toBe(0);
  } finally {
    if (paused) process.kill(orthancPid, 'SIGCONT');
    await startRelay(1);
    balancer.setTargets(relays.map((r) => r.port));
  }
}, 300_000);
