// The relaypacs agent follows delivery over the relay's event stream (GET /events) and still exits
// at once: the real relay binary, a real Orthanc, the agent as a child process (agent-harness.ts).
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AgentWorld } from './agent-harness.js';

let world: AgentWorld;

beforeAll(async () => {
  world = await AgentWorld.start('relaypacs-cli-events-');
  const login = await world.login();
  expect(login.code, login.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

/** The agent's requests to GET /events that the relay did not refuse, as its log tells. */
async function eventStreamRequests(): Promise<number> {
  const lines = (await readFile(world.relayLogPath(world.relayLife), 'utf8')).split('\n').filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { reqId?: string; msg?: string; req?: { url?: string }; res?: { statusCode?: number } });
  const refused = new Set(lines.filter((l) => (l.res?.statusCode ?? 0) >= 400).map((l) => l.reqId));
  return lines.filter((l) => l.msg === 'incoming request' && l.req?.url === '/events' && !refused.has(l.reqId)).length;
}

it('upload --wait follows the study over the event stream and exits as soon as it is confirmed', async () => {
  const study = await generateStudy(join(world.workDir, 'study'), { instances: 4, rows: 64, columns: 64 });
  const started = performance.now();
  const upload = await world.agent(['upload', join(world.workDir, 'study'), '--wait', '--json']);
  const elapsedMs = performance.now() - started;
  expect(upload.code, upload.stderr).toBe(0);
  expect(JSON.parse(upload.stdout.trim().split('\n').at(-1)!)).toMatchObject({ jobs: [{ state: 'confirmed', studyInstanceUid: study.studyInstanceUid }] });
  expect(await eventStreamRequests()).toBeGreaterThanOrEqual(1);
  // The stream would linger 10 s for a next study; closing the core ends it, so the agent does not wait.
  expect(elapsedMs).toBeLessThan(8_000);
  if (process.env.DEBUG_ENGINE) console.log('UPLOAD --wait', Math.round(elapsedMs), 'ms');
}, 60_000);

it('watch stops at once on SIGTERM while its event stream is open', async () => {
  const inbox = join(world.workDir, 'inbox');
  await mkdir(inbox, { recursive: true });
  const study = await generateStudy(join(world.workDir, 'to-watch'), { instances: 2, rows: 64, columns: 64 });
  const before = await eventStreamRequests();
  const watcher = world.spawnAgent(['watch', inbox, '--quiet', '0.5', '--stability', '0.2', '--json']);
  await expect.poll(() => watcher.stderr, { timeout: 20_000 }).toContain('watching');
  for (const instance of study.instances) await copyFile(instance.path, join(inbox, `IM${instance.instanceNumber}`));
  await expect.poll(() => watcher.stdout, { timeout: 30_000, interval: 100 }).toContain(study.studyInstanceUid);
  expect(watcher.stdout).toContain('"state":"confirmed"');
  expect(await eventStreamRequests()).toBeGreaterThan(before);
  const stopping = performance.now();
  const exit = await watcher.stop('SIGTERM');
  expect(exit.code).toBe(0);
  expect(performance.now() - stopping).toBeLessThan(5_000);
}, 90_000);
