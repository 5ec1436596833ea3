// `relaypacs watch --poll` on a share that disappears while the agent runs and comes back: the
// watched folder is renamed away (to the agent, exactly a dropped SMB/NFS mount), files land on it
// meanwhile, it is renamed back, and more files arrive after. The agent keeps running, says the
// folder is gone and back, and every study ends in Orthanc with every instance exactly once. The
// watcher alone is tested the same way in test/core/watch/folder-watcher-share.test.ts.
import { copyFile, mkdir, rename } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateStudy, type GeneratedStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AgentWorld, sleep } from './agent-harness.js';

let world: AgentWorld;

beforeAll(async () => {
  world = await AgentWorld.start('relaypacs-agent-share-');
  const login = await world.login();
  expect(login.code, login.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

/** Copies some of a staged study's files into `destination`, keeping their paths below the study's folder. */
async function copyIn(study: GeneratedStudy, from: string, destination: string, which = study.instances): Promise<void> {
  for (const instance of which) {
    const target = join(destination, relative(from, instance.path));
    await mkdir(dirname(target), { recursive: true });
    await copyFile(instance.path, target);
  }
}

interface Outcome { folder: string; studyInstanceUid: string; state: string; instances: { sopInstanceUid: string; state: string }[] }

it('keeps running through a share that goes away and comes back, and sends every study, each instance once', async () => {
  const started = performance.now();
  const share = join(world.workDir, 'share');
  const away = `${share}-away`;
  await mkdir(share, { recursive: true });
  const staging = join(world.workDir, 'staging');
  const stage = async (name: string, spec: Parameters<typeof generateStudy>[1]) => ({ dir: join(staging, name), study: await generateStudy(join(staging, name), { rows: 64, columns: 64, ...spec }) });
  const x = await stage('x', { instances: 3 });
  const y = await stage('y', { instances: 4, series: 2 });
  const z = await stage('z', { instances: 3 });
  const laterX = await stage('x-later', { instances: 2, studyInstanceUid: x.study.studyInstanceUid });
  const w = await stage('w', { instances: 3 });

  const agent = world.spawnAgent(['watch', share, '--poll', '--quiet', '2', '--stability', '0.3', '--json']);
  // --json: one line per outcome; those of the watched folder's studies carry the folder.
  const outcomes = () => agent.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Outcome)
    .filter((o) => o.folder === share && typeof o.studyInstanceUid === 'string');
  const delivered = (study: GeneratedStudy) => outcomes().filter((o) => o.studyInstanceUid === study.studyInstanceUid && o.state === 'confirmed');
  await expect.poll(() => agent.stderr, { timeout: 20_000 }).toContain('watching');

  // X arrives and is delivered while the share is up.
  await copyIn(x.study, x.dir, join(share, 'X'));
  await expect.poll(() => delivered(x.study).length, { timeout: 20_000, interval: 100 }).toBe(1);

  // Half of Y arrives; the share drops while Y waits for its quiet period (2 s) to end.
  await copyIn(y.study, y.dir, join(share, 'Y'), y.study.instances.slice(0, 2));
  await sleep(1_500);
  await rename(share, away);
  await expect.poll(() => agent.stderr, { timeout: 15_000, interval: 100 }).toMatch(/share is unavailable \(the folder is not there.*\); waiting for it/);

  // While it is away the rest of Y, a new study Z and two more instances of X land on it.
  await copyIn(y.study, y.dir, join(away, 'Y'), y.study.instances.slice(2));
  await copyIn(z.study, z.dir, join(away, 'Z'));
  await copyIn(laterX.study, laterX.dir, join(away, 'X-later'));
  await rename(away, share);
  await expect.poll(() => agent.stderr, { timeout: 15_000, interval: 100 }).toContain(`${share} is back`);

  // And a study arrives after it is back.
  await copyIn(w.study, w.dir, join(share, 'W'));

  const all = [x, y, z, laterX, w].map((s) => s.study);
  await expect.poll(async () => (await Promise.all(all.map((s) => world.heldInOrthanc(s)))).flat().length, { timeout: 30_000, interval: 250 })
    .toBe(all.reduce((sum, s) => sum + s.instances.length, 0));
  await expect.poll(() => [y, z, w].map((s) => delivered(s.study).length), { timeout: 10_000, interval: 100 }).toEqual([1, 1, 1]);
  await expect.poll(() => delivered(x.study).length, { timeout: 10_000, interval: 100 }).toBe(2);

  // Still running after all that, and it stops cleanly when asked.
  expect(agent.running).toBe(true);
  expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });

  // Nothing missed, nothing twice: Orthanc holds exactly the files of each study, and the relay
  // queued each instance for Orthanc once (the second X sent only its two new instances).
  for (const study of [x.study, y.study, z.study, w.study]) {
    const expected = study === x.study ? [...x.study.instances, ...laterX.study.instances] : study.instances;
    const held = await world.heldInOrthanc({ ...study, instances: expected });
    expect(held.sort()).toEqual(expected.map((i) => i.sopInstanceUid).sort());
    const items = world.relayDeliveryItems(study.studyInstanceUid);
    expect(items.size).toBe(expected.length);
    expect([...items].filter(([, n]) => n !== 1)).toEqual([]);
  }
  // Y went as one study of four, though half of it arrived while the share was away.
  expect(delivered(y.study)[0]!.instances).toHaveLength(4);
  expect(outcomes().filter((o) => o.state !== 'confirmed')).toEqual([]);
  expect(agent.stderr).not.toMatch(/skipped/);
  expect(agent.stderr.match(/is unavailable/g)).toHaveLength(1);
  console.info(`[watched share] 5 studies, ${all.reduce((sum, s) => sum + s.instances.length, 0)} instances delivered through a share drop in ${Math.round(performance.now() - started)} ms`);
}, 60_000);
