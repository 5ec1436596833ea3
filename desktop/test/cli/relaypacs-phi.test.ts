// A file path can name a patient. A study in a patient-named folder whose files disappear mid-upload: what
// `relaypacs upload --wait`, `queue` and `status` print names no part of the path. The real relay binary,
// the agent as a child process signed in through a real gnome-keyring.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { generateStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AgentWorld } from './agent-harness.js';

let world: AgentWorld;

beforeAll(async () => {
  world = await AgentWorld.start('relaypacs-cli-phi-');
  const login = await world.login();
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

const PATIENT = /DOE|JANE|1970/;

it('prints no part of a patient-named path when a file disappears mid-upload', async () => {
  const folder = join(world.workDir, 'DOE^JANE 1970');
  await generateStudy(folder, { instances: 24, series: 2, rows: 256, columns: 256 });
  // Slow enough to take the folder away while the study is on its way.
  expect((await world.agent(['settings', '--max-rate', '400KB/s'])).code).toBe(0);
  const chunks = () => world.withRelayDb((db) => (db.prepare('SELECT COUNT(*) AS n FROM upload_chunks').get() as { n: number }).n);
  const upload = world.agent(['upload', folder, '--stat', '--wait']);
  const deadline = Date.now() + 30_000;
  while (chunks() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await rm(folder, { recursive: true, force: true });
  const sent = await upload;
  expect(sent.code).toBe(1);
  expect(sent.stdout).toMatch(/failed/);
  const queue = await world.agent(['queue']);
  const queueJson = await world.agent(['queue', '--json']);
  const status = await world.agent(['status']);
  const statusJson = await world.agent(['status', '--json']);
  expect(queue.stdout).toMatch(/failed\tSTAT\ta file of the study can no longer be read: the file disappeared before it could be read; import the study again/);
  expect((JSON.parse(queueJson.stdout) as { jobs: { errorCode: string }[] }).jobs[0]).toMatchObject({ errorCode: 'FILE_UNREADABLE' });
  // The import's summary line shows back the path typed on the command line (which argument its counts are
  // for); every line about the job is path-free.
  const [summary, ...jobLines] = sent.stdout.trim().split('\n');
  expect(summary).toBe(`${folder}: 24 imported, 0 already known, 0 conflicts, 0 skipped`);
  expect(jobLines).toEqual([expect.stringMatching(/^job 1 \(upload [\w-]+\): failed, a file of the study can no longer be read: the file disappeared before it could be read; import the study again$/)]);
  const outputs = { 'upload --wait': { stdout: jobLines.join('\n'), stderr: sent.stderr }, queue, 'queue --json': queueJson, status, 'status --json': statusJson };
  for (const [name, run] of Object.entries(outputs)) {
    expect(run.stdout, name).not.toMatch(PATIENT);
    expect(run.stderr, name).not.toMatch(PATIENT);
  }
  await world.agent(['settings', '--max-rate', 'off']);
}, 90_000);
