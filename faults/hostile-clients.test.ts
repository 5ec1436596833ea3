// Hostile clients (issue 13): while a real 100-instance study uploads from the agent, 200 slow-body
// connections (a login header, then one body byte every 10 s) and 3 unauthenticated chunk PUTs
// announcing 64 GiB each hit the relay, from another loopback address (an attacker is not the
// clinic). Both kinds are reopened as soon as the relay drops them, for as long as the upload runs.
// The upload must complete byte-identical in Orthanc within 1.5x the same upload on a quiet relay
// (measured side by side in this run), and the attack may add at most 32 MiB to the relay's RSS.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dripBody, floodBody, generateStudy, openRaw, type GeneratedStudy, type RawConnection } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { canaryPatient, recordResult, SHORT } from './canary.js';
import { FaultWorld, sleep } from './fault-world.js';

const STUDY = { instances: 100, series: 2, rows: 256, columns: 256 };
const SLOW_CONNECTIONS = 200;
const FLOODS = 3;
const ATTACKER = '127.0.0.2';
/**
 * What the attack may add to the relay's RSS over the same upload on a quiet relay: the buffers of
 * 200 connections and three refused bodies read at most 64 KiB each, and nothing that grows with the
 * bytes the attackers push.
 */
const ATTACK_RSS_BOUND_BYTES = 32 * 1024 * 1024;
/** Quiet and hostile uploads, alternated: the ratio is of medians. */
const ROUNDS = SHORT ? 1 : 3;
/** No attack outlives this, whatever the upload does. */
const ATTACK_LIMIT_MS = 10 * 60_000;
/**
 * How long the attack runs before the upload starts. The full form starts the upload just before the
 * relay's request timeout (30 s) closes the first wave of slow connections, so it runs while the relay
 * closes 200 of them and the attackers open 200 more; the short form only lets the attack build up.
 */
const LEAD_MS = SHORT ? 2_000 : 29_000;

let world: FaultWorld;
let studyCount = 0;

beforeAll(async () => {
  world = await FaultWorld.start('hostile');
  await world.login();
}, 120_000);

afterAll(async () => {
  await world?.stop();
}, 120_000);

async function newStudy(): Promise<{ study: GeneratedStudy; dir: string }> {
  const dir = join(world.workDir, `study-${++studyCount}`);
  return { study: await generateStudy(dir, { ...STUDY, patient: canaryPatient() }), dir };
}

/** One `upload --wait` (until the PACS confirmed every instance), timed; checks every byte arrived. */
async function timedUpload(): Promise<{ ms: number; instances: number; mismatched: number; lost: number }> {
  const { study, dir } = await newStudy();
  const started = performance.now();
  const sent = await world.agent(['upload', dir, '--wait']);
  const ms = performance.now() - started;
  expect(sent.code, sent.stderr.slice(-2000)).toBe(0);
  const counts = [...(await world.heldCounts(study)).values()];
  return { ms, instances: counts.length, lost: counts.filter((n) => n !== 1).length, mismatched: (await world.mismatchedInstances(study)).length };
}

/** The relay process's resident set, from /proc. */
async function relayRss(): Promise<number> {
  const status = await readFile(`/proc/${world.relay.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024;
}

/** Samples the relay's RSS and the time GET /healthz takes, every 200 ms while `work` runs. */
async function sampled<T>(work: Promise<T>, sample: (rss: number, healthzMs: number) => void): Promise<T> {
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const started = performance.now();
      await fetch(`${world.relayUrl}/healthz`).then((r) => r.arrayBuffer());
      sample(await relayRss(), performance.now() - started);
      await sleep(200);
    }
  })();
  try {
    return await work;
  } finally {
    sampling = false;
    await sampler;
  }
}

interface AttackStats { slowOpened: number; slowClosedByRelay: number; floodsOpened: number; floodBytesSent: number }
interface Attack {
  stop(): Promise<AttackStats>;
}

/** Starts the attackers; each kind reopens what the relay closes until stop(). */
function attack(): Attack {
  let running = true;
  const deadline = Date.now() + ATTACK_LIMIT_MS;
  const live = new Set<RawConnection>();
  let slowOpened = 0;
  let slowClosedByRelay = 0;
  let floodsOpened = 0;
  let floodBytesSent = 0;
  const body = JSON.stringify({ username: 'nobody', password: 'x'.repeat(64) });
  const keep = async (open: () => Promise<void>) => {
    while (running && Date.now() < deadline) {
      await open().catch(() => sleep(100));
    }
  };
  const slow = async () => {
    const connection = await openRaw(world.relayUrl, { localAddress: ATTACKER });
    live.add(connection);
    slowOpened++;
    await dripBody(connection, `POST /auth/login HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body, 10_000);
    await connection.closed;
    // Closed while the attack runs: the relay did it (its request timeout); stop() closes the rest.
    if (running) slowClosedByRelay++;
    live.delete(connection);
  };
  const flood = async () => {
    const connection = await openRaw(world.relayUrl, { localAddress: ATTACKER });
    live.add(connection);
    floodsOpened++;
    await floodBody(connection, `PUT /upload/AAAAAAAAAAAAAAAAAAAAAA/chunk?instance=0&offset=0 HTTP/1.1\r\nHost: relay\r\nContent-Type: application/octet-stream\r\nContent-Length: ${64 * 1024 ** 3}\r\n\r\n`,
      64 * 1024 ** 3, Math.max(0, deadline - Date.now()));
    await connection.closed;
    floodBytesSent += connection.written();
    live.delete(connection);
  };
  const tasks = [
    ...Array.from({ length: SLOW_CONNECTIONS }, () => keep(slow)),
    ...Array.from({ length: FLOODS }, () => keep(flood)),
  ];
  return {
    async stop() {
      running = false;
      for (const connection of live) connection.socket.destroy();
      await Promise.all(tasks);
      return { slowOpened, slowClosedByRelay, floodsOpened, floodBytesSent };
    },
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

it(`an upload under ${SLOW_CONNECTIONS} slow-body connections and ${FLOODS} 64 GiB floods completes within 1.5x of a quiet one`, async () => {
  // Warm up (first run compiles the agent's paths and fills caches): not counted.
  await timedUpload();
  const quiet: number[] = [];
  const hostile: number[] = [];
  let peakRss = 0;
  let quietPeakRss = 0;
  const quietHealthz: number[] = [];
  const hostileHealthz: number[] = [];
  let attackStats: AttackStats = { slowOpened: 0, slowClosedByRelay: 0, floodsOpened: 0, floodBytesSent: 0 };
  let checked = { instances: 0, lost: 0, mismatched: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const calm = await sampled(timedUpload(), (rss, ms) => { quietPeakRss = Math.max(quietPeakRss, rss); quietHealthz.push(ms); });
    quiet.push(calm.ms);
    const attackers = attack();
    await sleep(LEAD_MS);
    const underAttack = await sampled(timedUpload(), (rss, ms) => { peakRss = Math.max(peakRss, rss); hostileHealthz.push(ms); });
    const stats = await attackers.stop();
    hostile.push(underAttack.ms);
    attackStats = {
      slowOpened: attackStats.slowOpened + stats.slowOpened,
      slowClosedByRelay: attackStats.slowClosedByRelay + stats.slowClosedByRelay,
      floodsOpened: attackStats.floodsOpened + stats.floodsOpened,
      floodBytesSent: attackStats.floodBytesSent + stats.floodBytesSent,
    };
    for (const run of [calm, underAttack]) {
      checked = { instances: checked.instances + run.instances, lost: checked.lost + run.lost, mismatched: checked.mismatched + run.mismatched };
    }
  }
  const ratio = median(hostile) / median(quiet);
  const result = {
    study: STUDY, rounds: ROUNDS, slowConnections: SLOW_CONNECTIONS, floods: FLOODS, leadMs: LEAD_MS,
    healthzMedianMs: { quiet: Number(median(quietHealthz).toFixed(1)), hostile: Number(median(hostileHealthz).toFixed(1)) },
    quietMs: quiet.map(Math.round), hostileMs: hostile.map(Math.round), ratio: Number(ratio.toFixed(2)),
    peakRelayRssMiB: Math.round(peakRss / 1024 / 1024), quietPeakRelayRssMiB: Math.round(quietPeakRss / 1024 / 1024), attackRssBoundMiB: ATTACK_RSS_BOUND_BYTES / 1024 / 1024,
    attack: { ...attackStats, floodBytesPerConnection: Math.round(attackStats.floodBytesSent / Math.max(1, attackStats.floodsOpened)) },
    ...checked,
  };
  console.log(`hostile clients: ${JSON.stringify(result)}`);
  await recordResult('hostile-clients', result);
  expect(checked.lost).toBe(0);
  expect(checked.mismatched).toBe(0);
  expect(ratio).toBeLessThanOrEqual(1.5);
  expect(peakRss - quietPeakRss).toBeLessThan(ATTACK_RSS_BOUND_BYTES);
}, 900_000);
