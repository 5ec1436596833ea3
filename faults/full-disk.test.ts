// A full disk: the relay's data folder (database and uploads) is a small tmpfs, several agents (each
// its own workstation and account, sending at a capped rate so uploads take seconds) send at once
// more studies than fit while the PACS is down, so no delivery frees space; mid-upload something
// else fills the disk to its last bytes (a filler file). Then the filler goes and the PACS comes
// back. The agents must be told 507 "low on disk space" (never 500), nothing may be lost or
// corrupted, and every study must be delivered within a minute of space returning. Root only (mount).
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CAN_MOUNT, generateStudy, relayUserCommand, SmallDisk, type GeneratedStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryPatient, recordResult, SHORT } from './canary.js';
import { FaultWorld, sleep, type AgentRun } from './fault-world.js';

const MiB = 1024 * 1024;
// 512×512 16-bit instances of ~524 KB. The room above the floor holds about two of the studies
// (one in the short form): the others are refused at init until deliveries free space.
const plan = SHORT
  ? { diskMiB: 20, agents: 3, instances: 12, holdSeconds: 8, rate: '3MB/s' }
  : { diskMiB: 40, agents: 5, instances: 20, holdSeconds: 20, rate: '3MB/s' };
const FLOOR = { minFreeDiskBytes: 4 * MiB, reserveDiskBytes: 2 * MiB };
/** What the filler leaves free: less than the reserve, so chunks are refused or meet ENOSPC, and SQLite runs short too. */
const LEFT_FREE = 256 * 1024;

let disk: SmallDisk | undefined;
let world: FaultWorld | undefined;
const result: Record<string, unknown> = {};

interface Workstation {
  user: { user: string; password: string };
  env: NodeJS.ProcessEnv;
  study: GeneratedStudy;
  dir: string;
  run?: AgentRun;
  /** Seconds from the filler's removal to the agent's exit. */
  doneAfterSpaceBack?: number;
  /** The job's last error as `relaypacs queue` showed it while it waited, when it said "low on disk space". */
  sawStorageFull?: string;
}
const workstations: Workstation[] = [];

describe.skipIf(!CAN_MOUNT)('a full disk', () => {
  beforeAll(async () => {
    disk = await SmallDisk.mount(plan.diskMiB * MiB);
    try {
      world = await FaultWorld.start('full-disk', { relayDataDir: disk.path, relayConfig: { upload: FLOOR } });
      for (let n = 0; n < plan.agents; n++) {
        const user = { user: `workstation-${n}`, password: `workstation secret ${n}-7` };
        const added = await relayUserCommand(world.relayDataDir, ['add', user.user, '--role', 'device', '--password-stdin'], `${user.password}\n`);
        if (added.code !== 0) throw new Error(`could not add ${user.user}: ${added.stderr}`);
        const env = { RELAYPACS_AGENT_DATA: join(world.workDir, `agent-${n}`) };
        await world.login(user, env);
        const capped = await world.agent(['settings', '--max-rate', plan.rate], '', env);
        if (capped.code !== 0) throw new Error(`could not cap the sending rate: ${capped.stderr}`);
        const dir = join(world.workDir, `study-${n}`);
        const study = await generateStudy(dir, { instances: plan.instances, series: 2, rows: 512, columns: 512, patient: canaryPatient() });
        workstations.push({ user, env, study, dir });
      }
    } catch (error) {
      await world?.stop();
      await disk.unmount();
      throw error;
    }
  }, 180_000);

  afterAll(async () => {
    try {
      await world?.stop();
    } finally {
      await disk?.unmount();
    }
    if (Object.keys(result).length > 0) await recordResult('full-disk', result);
  }, 120_000);

  it(`${plan.agents} agents, more than fits, the disk filled mid-upload: 507s, then every study delivered intact within a minute of space returning`, async () => {
    const w = world!;
    const studyBytes = workstations.map((ws) => ws.study.instances.reduce((sum, i) => sum + i.size, 0));
    // The PACS is down: accepted studies keep their data.
    await w.orthanc.pause();
    const started = performance.now();
    for (const ws of workstations) ws.run = w.spawnAgent(['upload', ws.dir, '--wait'], '', ws.env);
    const exits = workstations.map((ws) => ws.run!.exited);

    // Mid-upload (the relay holds a third of a study), something else fills the disk.
    await waitFor(() => w.relayChunkBytes() >= studyBytes[0]! / 3, 60_000, 'the first chunks');
    const filledAfter = (performance.now() - started) / 1000;
    const filler = join(disk!.path, 'filler');
    const fillerBytes = await fill(filler, LEFT_FREE);
    const watching = watchWhileFull(w);
    await sleep(plan.holdSeconds * 1000);
    const whileFull = await watching.stop();

    // Space returns: the filler goes, the PACS comes back.
    await rm(filler);
    await w.orthanc.resume();
    const spaceBackAt = performance.now();
    await Promise.all(workstations.map(async (ws) => {
      await ws.run!.exited;
      ws.doneAfterSpaceBack = (performance.now() - spaceBackAt) / 1000;
    }));
    const codes = (await Promise.all(exits)).map((e) => e.code);

    let lost = 0;
    let duplicated = 0;
    let mismatched = 0;
    for (const ws of workstations) {
      for (const n of (await w.heldCounts(ws.study)).values()) {
        if (n === 0) lost++;
        if (n > 1) duplicated++;
      }
      mismatched += (await w.mismatchedInstances(ws.study)).length;
    }
    const log = await relayLog(w);
    Object.assign(result, {
      diskBytes: plan.diskMiB * MiB, ...FLOOR, fillerLeftFreeBytes: LEFT_FREE, fillerBytes,
      agents: plan.agents, studyBytes, totalBytes: studyBytes.reduce((a, b) => a + b, 0),
      filledAfterSeconds: round(filledAfter), heldFullSeconds: plan.holdSeconds,
      relayAnswers: answersByRoute(log),
      whileFull,
      agentsToldStorageFull: workstations.filter((ws) => ws.sawStorageFull).length,
      agentMessage: workstations.find((ws) => ws.sawStorageFull)?.sawStorageFull ?? null,
      exitCodes: codes,
      deliveredSecondsAfterSpaceBack: workstations.map((ws) => round(ws.doneAfterSpaceBack!)),
      totalSeconds: round((performance.now() - started) / 1000),
      instances: workstations.length * plan.instances, lost, duplicated, mismatched,
    });

    expect(codes).toEqual(workstations.map(() => 0));
    expect({ lost, duplicated, mismatched }).toEqual({ lost: 0, duplicated: 0, mismatched: 0 });
    const answers = answersByRoute(log);
    expect(answers.status500).toBe(0);
    // Refused at init (more than fits) and on chunks (the disk filled under them).
    expect(answers.init507).toBeGreaterThan(0);
    expect(answers.chunk507).toBeGreaterThan(0);
    expect(whileFull.readyz).toContain(503);
    expect(workstations.some((ws) => ws.sawStorageFull)).toBe(true);
    expect(Math.max(...workstations.map((ws) => ws.doneAfterSpaceBack!))).toBeLessThan(60);
  });
});

/** Writes `path` until the disk is full, then gives back all but `leave` bytes of it; answers its size. */
async function fill(path: string, leave: number): Promise<number> {
  const handle = await open(path, 'w');
  const block = Buffer.alloc(MiB, 0x5a);
  let size = 0;
  try {
    for (;;) {
      const { bytesWritten } = await handle.write(block, 0, block.length, size);
      size += bytesWritten;
      if (bytesWritten < block.length) break;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  }
  size = Math.max(0, size - leave);
  await handle.truncate(size);
  await handle.close();
  return size;
}

/**
 * While the disk is full: /readyz's answers (and Retry-After), and each agent's job as
 * `relaypacs queue` shows it, noting the agents told the relay is low on disk space.
 */
function watchWhileFull(w: FaultWorld): { stop(): Promise<{ readyz: number[]; retryAfter: string[] }> } {
  const readyz = new Set<number>();
  const retryAfter = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const answer = await fetch(`${w.relayUrl}/readyz`).catch(() => undefined);
      if (answer) {
        readyz.add(answer.status);
        if (answer.headers.get('retry-after')) retryAfter.add(answer.headers.get('retry-after')!);
      }
      await noteStorageFull(w);
      await sleep(500);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      // Agents refused at init keep waiting after the hold: look once more.
      await noteStorageFull(w);
      return { readyz: [...readyz].sort(), retryAfter: [...retryAfter].sort() };
    },
  };
}

async function noteStorageFull(w: FaultWorld): Promise<void> {
  await Promise.all(workstations.filter((ws) => !ws.sawStorageFull).map(async (ws) => {
    const queue = await w.agent(['queue', '--json'], '', ws.env);
    const jobs = (JSON.parse(queue.stdout || '{"jobs":[]}') as { jobs: { errorCode: string | null; lastError: string | null }[] }).jobs;
    const told = jobs.find((j) => j.errorCode === 'STORAGE_FULL' && /low on disk space/.test(j.lastError ?? ''));
    if (told) ws.sawStorageFull = told.lastError!;
  }));
}

async function relayLog(w: FaultWorld): Promise<string> {
  return readFile(join(w.logDir, 'relay-1.log'), 'utf8');
}

async function waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await sleep(100);
  }
}

/** The relay's 507s by route (init or chunk) and its 500s, from its request log (pino lines linked by reqId). */
function answersByRoute(log: string): { init507: number; chunk507: number; status500: number } {
  const urls = new Map<string, string>();
  const answers = { init507: 0, chunk507: 0, status500: 0 };
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { reqId?: string; req?: { url?: string }; res?: { statusCode?: number } };
    if (entry.reqId === undefined) continue;
    if (entry.req?.url) urls.set(entry.reqId, entry.req.url);
    const status = entry.res?.statusCode;
    if (status === 500) answers.status500++;
    if (status === 507) {
      const url = urls.get(entry.reqId) ?? '';
      if (url.includes('/chunk')) answers.chunk507++;
      else if (url.includes('/init')) answers.init507++;
    }
  }
  return answers;
}
const round = (seconds: number): number => Math.round(seconds * 10) / 10;
