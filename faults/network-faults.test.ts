// A bad clinic network: the agent runs in its own network namespace, joined to the relay by a veth
// pair with random packet loss each way (nft numgen) and a 20 Mbit/s limit (tc tbf), or with the
// link cut in the middle of an upload. Every study must end delivered, byte-identical in Orthanc.
import { createServer, type Server } from 'node:http';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { generateStudy, type GeneratedStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryPatient, recordResult, SHORT } from './canary.js';
import { ClinicNetwork, canCreateNamespaces } from './clinic-network.js';
import { FaultWorld, sleep } from './fault-world.js';

const allowed = await canCreateNamespaces();
if (!allowed) console.log('network faults: SKIPPED (needs root with ip netns, nft and tc)');

const RATE = '20mbit';
// 512×512 16-bit instances of ~524 KB: 38 of them ≈ 20 MB, 10 ≈ 5 MB (the short form: a few, and
// one 256×256 instance at 50% loss, where TCP alone takes minutes for a megabyte).
const plan = SHORT
  ? { loss30: 4, loss50: 1, loss50Size: 256, cutSeconds: 10, cutInstances: 8, curlReference: false }
  : { loss30: 38, loss50: 10, loss50Size: 512, cutSeconds: 60, cutInstances: 38, curlReference: process.env.RELAYPACS_FAULTS_SKIP_CURL !== '1' };

interface Outcome { scenario: string; studyBytes: number; instances: number; seconds: number; relayAckedBytes: number; wireBytesSent: number; delivered: number; identical: boolean }
const outcomes: Outcome[] = [];
let curlReference: { exitCode: number | null; seconds: number; finished: boolean } | undefined;
let net: ClinicNetwork;
let world: FaultWorld;

describe.skipIf(!allowed)('clinic network faults', () => {
  beforeAll(async () => {
    net = await ClinicNetwork.create();
    try {
      world = await FaultWorld.start('network', { relayHost: net.hostAddress, agentPrefix: net.execPrefix });
      await world.login();
    } catch (error) {
      await world?.stop();
      await net.destroy();
      throw error;
    }
  }, 180_000);

  afterAll(async () => {
    try {
      await world?.stop();
    } finally {
      await net?.destroy();
    }
    if (outcomes.length > 0) await recordResult('network-faults', { rate: RATE, outcomes, curlReference });
  }, 120_000);

  async function sendThrough(scenario: string, instances: number, during?: (study: GeneratedStudy) => Promise<void>, size = 512): Promise<Outcome> {
    const study = await generateStudy(join(world.workDir, scenario), { instances, rows: size, columns: size, patient: canaryPatient() });
    const studyBytes = study.instances.reduce((sum, i) => sum + i.size, 0);
    const ackedBefore = await world.relayBytesReceivedMetric();
    const wireBefore = (await net.traffic()).sentBytes;
    const started = performance.now();
    const agent = world.spawnAgent(['upload', join(world.workDir, scenario), '--wait', '--json']);
    await during?.(study);
    const exit = await agent.exited;
    const seconds = (performance.now() - started) / 1000;
    // Measure with the faults lifted: the figures must not be lost to the faults themselves.
    await net.setLoss(0);
    await net.setCut(false);
    const outcome: Outcome = {
      scenario, studyBytes, instances, seconds: Number(seconds.toFixed(1)),
      relayAckedBytes: (await world.relayBytesReceivedMetric()) - ackedBefore,
      wireBytesSent: (await net.traffic()).sentBytes - wireBefore,
      delivered: [...(await world.heldCounts(study)).values()].filter((n) => n === 1).length,
      identical: (await world.mismatchedInstances(study)).length === 0,
    };
    outcomes.push(outcome);
    console.log(`network faults: ${JSON.stringify(outcome)}`);
    expect(exit.code, agent.stderr.slice(-3000)).toBe(0);
    expect(outcome.delivered).toBe(instances);
    expect(outcome.identical).toBe(true);
    return outcome;
  }

  it(`30% loss each way at ${RATE}: the study ends delivered, byte-identical`, async () => {
    await net.setRate(RATE);
    await net.setLoss(30);
    await sendThrough('loss30', plan.loss30);
  }, 1_800_000);

  it(`50% loss each way at ${RATE}: the 5 MB study ends delivered in under 180 s`, async () => {
    await net.setRate(RATE);
    await net.setLoss(50);
    const outcome = await sendThrough('loss50', plan.loss50, undefined, plan.loss50Size);
    expect(outcome.seconds).toBeLessThan(180);
  }, 1_800_000);

  it(`the link cut for ${plan.cutSeconds} s in the middle of an upload: the study ends delivered, byte-identical`, async () => {
    await net.setRate(RATE);
    await net.setLoss(0);
    let cutAtBytes = 0;
    // The relay's chunk table still holds the earlier scenarios' chunks: count this study's only.
    const before = world.relayChunkBytes();
    await sendThrough('cut', plan.cutInstances, async (study) => {
      const total = study.instances.reduce((sum, i) => sum + i.size, 0);
      const deadline = Date.now() + 120_000;
      while (world.relayChunkBytes() - before < total * 0.3 && Date.now() < deadline) await sleep(50);
      cutAtBytes = world.relayChunkBytes() - before;
      expect(cutAtBytes, 'the cut must fall in the middle of the upload').toBeLessThan(total);
      await net.setCut(true);
      await sleep(plan.cutSeconds * 1000);
      await net.setCut(false);
    });
    outcomes.at(-1)!.scenario = `cut ${plan.cutSeconds} s after ${(cutAtBytes / 1e6).toFixed(1)} MB`;
  }, 1_800_000);

  it.skipIf(!plan.curlReference)('for reference: one curl POST of 5 MB at 50% loss (400 s limit)', async () => {
    // A sink on the host end of the veth that reads the body and answers 200.
    const sink: Server = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.end('ok'));
    });
    await new Promise<void>((resolve) => sink.listen(0, net.hostAddress, resolve));
    const port = (sink.address() as { port: number }).port;
    const body = join(world.workDir, 'five-mb.bin');
    await writeFile(body, Buffer.alloc(5 * 1024 * 1024, 7));
    await net.setRate(RATE);
    await net.setLoss(50);
    const started = performance.now();
    const code = await new Promise<number | null>((resolve) => {
      const child = execFile(net.execPrefix[0]!, [...net.execPrefix.slice(1), 'curl', '-sS', '-o', '/dev/null', '--max-time', '400', '--data-binary', `@${body}`, `http://${net.hostAddress}:${port}/`], () => undefined);
      child.once('exit', resolve);
    });
    curlReference = { exitCode: code, seconds: Number(((performance.now() - started) / 1000).toFixed(1)), finished: code === 0 };
    console.log(`network faults: curl reference ${JSON.stringify(curlReference)}`);
    await net.setLoss(0);
    sink.close();
  }, 600_000);
});
