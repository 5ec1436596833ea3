// kill -9 of the agent, then of the relay, at random points during uploads: every study must end
// in Orthanc with each instance once, none lost, none duplicated. Kill points are random delays
// after the start of an upload (the agent) or after the relay's last start (the relay); when a study
// is delivered before its kill, the next kill point starts a new study.
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { generateStudy, type GeneratedStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { canaryPatient, recordResult, SHORT } from './canary.js';
import { FaultWorld, sleep, type AgentRun } from './fault-world.js';

const KILLS = SHORT ? 4 : 20;
// 24 instances of 256×256 16-bit (~130 KB): a few seconds per study on loopback.
const STUDY = { instances: 40, series: 2, rows: 256, columns: 256 };
/** Wall time of one undisturbed `upload --wait` of such a study (measured first): kill points fall within it. */
let uploadMs = 3_000;
const killDelay = () => randomInt(Math.round(uploadMs * 0.05), Math.round(uploadMs * 0.95));

let world: FaultWorld;
const results: Record<string, unknown> = {};

beforeAll(async () => {
  world = await FaultWorld.start('kill');
  await world.login();
  const calibration = await newStudy('calibration');
  const started = performance.now();
  const sent = await world.agent(['upload', calibration.dir, '--wait']);
  if (sent.code !== 0) throw new Error(`calibration upload failed: ${sent.stderr}`);
  uploadMs = performance.now() - started;
}, 120_000);

afterAll(async () => {
  await world?.stop();
  if (Object.keys(results).length > 0) await recordResult('kill-faults', results);
}, 120_000);


async function newStudy(label: string): Promise<{ study: GeneratedStudy; dir: string }> {
  const dir = join(world.workDir, label);
  return { study: await generateStudy(dir, { ...STUDY, patient: canaryPatient() }), dir };
}

it(`kill -9 of the agent at ${KILLS} random points: 0 instances lost, 0 duplicated`, async () => {
  const studies: GeneratedStudy[] = [];
  const agentDirs: number[] = [0];
  const delays: number[] = [];
  let killedMidUpload = 0;
  let current = await newStudy('agent-0');
  studies.push(current.study);
  let first = true;
  for (let k = 0; k < KILLS; k++) {
    const delay = killDelay();
    delays.push(delay);
    const agent = world.spawnAgent(first ? ['upload', current.dir, '--wait'] : ['retry', '--all', '--wait']);
    first = false;
    const finished = await Promise.race([agent.exited.then(() => true), sleep(delay).then(() => false)]);
    if (!finished) {
      agent.child.kill('SIGKILL');
      await agent.exited;
      killedMidUpload++;
    } else if ((await agent.exited).code === 0) {
      // Delivered before the kill point: the next kill point sends a new study.
      current = await newStudy(`agent-${k + 1}`);
      studies.push(current.study);
      agentDirs.push(k + 1);
      first = true;
    } else {
      // `retry --all` found no job (the kill came before the import made one): upload the folder again.
      first = true;
    }
  }
  // Finish what the last kill left (2: no job to retry), then every folder again: importing a study
  // the agent already holds sends nothing twice, and sends what a kill during import left unsent.
  const final = await world.agent(['retry', '--all', '--wait']);
  expect([0, 2], `${final.stdout.slice(-2000)}\n${final.stderr.slice(-2000)}`).toContain(final.code);
  for (let i = 0; i < studies.length; i++) {
    const again = await world.agent(['upload', join(world.workDir, i === 0 ? 'agent-0' : `agent-${agentDirs[i]}`), '--wait']);
    expect(again.code, `${again.stdout.slice(-2000)}\n${again.stderr.slice(-2000)}`).toBe(0);
  }
  const outcome = await world.tally(studies);
  results.agent = { undisturbedUploadMs: Math.round(uploadMs), killPoints: KILLS, killedMidUpload, delaysMs: delays, studies: studies.length, ...outcome };
  console.log(`kill faults (agent): ${JSON.stringify(results.agent)}`);
  expect(outcome.lost).toBe(0);
  expect(outcome.duplicated).toBe(0);
  expect(outcome.mismatched).toBe(0);
}, 900_000);

it(`kill -9 of the relay at ${KILLS} random points: 0 instances lost, 0 duplicated`, async () => {
  const studies: GeneratedStudy[] = [];
  const delays: number[] = [];
  let agent: AgentRun | undefined;
  let killedWhileAgentRunning = 0;
  for (let k = 0; k < KILLS; k++) {
    if (!agent || agent.child.exitCode !== null || agent.child.signalCode !== null) {
      if (agent) {
        const exit = await agent.exited;
        expect(exit.code, `${agent.stdout.slice(-2000)}\n${agent.stderr.slice(-2000)}`).toBe(0);
      }
      const next = await newStudy(`relay-${k}`);
      studies.push(next.study);
      agent = world.spawnAgent(['upload', next.dir, '--wait']);
    }
    const delay = killDelay();
    delays.push(delay);
    await sleep(delay);
    if (agent.child.exitCode === null) killedWhileAgentRunning++;
    process.kill(world.relay.pid!, 'SIGKILL');
    await world.relay.exited;
    await world.startRelay();
  }
  const exit = await agent!.exited;
  expect(exit.code, `${agent!.stdout.slice(-2000)}\n${agent!.stderr.slice(-2000)}`).toBe(0);
  // The agent returns once the relay has confirmed delivery; nothing may remain queued at the relay.
  const outcome = await world.tally(studies);
  if (outcome.lost > 0) console.log(`kill faults (relay): lost instances, relay record: ${JSON.stringify(await relayRecordOfLost(studies))}`);
  results.relay = { undisturbedUploadMs: Math.round(uploadMs), killPoints: KILLS, killedWhileAgentRunning, delaysMs: delays, studies: studies.length, ...outcome };
  console.log(`kill faults (relay): ${JSON.stringify(results.relay)}`);
  expect(outcome.lost).toBe(0);
  expect(outcome.duplicated).toBe(0);
  expect(outcome.mismatched).toBe(0);
}, 900_000);

/** For a report: what the relay's database says about instances Orthanc does not hold. */
async function relayRecordOfLost(studies: GeneratedStudy[]): Promise<unknown[]> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(world.relayDataDir, 'relay.db'), { readonly: true, fileMustExist: true });
  try {
    const out: unknown[] = [];
    for (const study of studies) {
      for (const [uid, n] of await world.heldCounts(study)) {
        if (n !== 0) continue;
        out.push(db.prepare(`SELECT u.id AS upload, u.state AS uploadState, ui.idx, ui.state, ui.received_bytes, ui.size, di.state AS itemState, di.attempts, di.last_error, di.failure_code, di.warning
          FROM upload_instances ui JOIN uploads u ON u.id = ui.upload_id LEFT JOIN deliveries d ON d.upload_id = u.id LEFT JOIN delivery_items di ON di.delivery_id = d.id AND di.idx = ui.idx
          WHERE ui.sop_instance_uid = ?`).all(uid));
      }
    }
    return out;
  } finally {
    db.close();
  }
}
