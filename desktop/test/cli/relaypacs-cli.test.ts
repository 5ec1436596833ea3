// The relaypacs command end to end: the real relay binary forwarding to a real Orthanc, the agent
// as a child process signed in through a real gnome-keyring. The tests share one agent and run in
// order: the first signs in.
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateStudy, type ProgramResult } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AGENT, AgentWorld } from './agent-harness.js';

let world: AgentWorld;
let workDir: string;

function agent(args: string[], stdin = ''): Promise<ProgramResult> {
  return world.agent(args, stdin);
}

beforeAll(async () => {
  world = await AgentWorld.start('relaypacs-cli-');
  workDir = world.workDir;
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

it('signs in once, keeps the session in the keychain only, and uploads a study until Orthanc confirms it', async () => {
  const login = await world.login();
  expect(login.code, login.stderr).toBe(0);
  expect(JSON.parse(login.stdout)).toMatchObject({ relayUrl: world.relay.url, username: 'ct-scanner', role: 'device' });
  // No refresh token anywhere in the agent's files: it lives in the keychain.
  for (const name of await readdir(join(workDir, 'agent'))) {
    if (name === 'tmp') continue;
    expect((await readFile(join(workDir, 'agent', name))).includes('rpr_'), name).toBe(false);
  }

  const study = await generateStudy(join(workDir, 'study'), { instances: 5, series: 2, rows: 128, columns: 128 });
  const upload = await agent(['upload', join(workDir, 'study'), '--stat', '--history', 'chest pain', '--wait', '--json']);
  expect(upload.code, upload.stderr).toBe(0);
  const lines = upload.stdout.trim().split('\n');
  const result = JSON.parse(lines.at(-1)!) as { jobs: { state: string; studyInstanceUid: string; instances: { state: string }[] }[] };
  expect(result.jobs).toHaveLength(1);
  expect(result.jobs[0]).toMatchObject({ state: 'confirmed', studyInstanceUid: study.studyInstanceUid });
  const held = await world.heldInOrthanc(study);
  expect(held).toHaveLength(5);

  // The same study again: nothing to send, still reported delivered.
  const again = await agent(['upload', join(workDir, 'study'), '--wait', '--json']);
  expect(again.code, again.stderr).toBe(0);
  expect(await world.heldInOrthanc(study)).toHaveLength(5);

  const queue = await agent(['queue', '--json']);
  expect((JSON.parse(queue.stdout) as { jobs: { state: string }[] }).jobs.length).toBeGreaterThanOrEqual(1);
}, 120_000);

it('explains what is wrong with bad usage', async () => {
  const bad = await agent(['upload']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/upload needs at least one PATH/);
  const unknown = await agent(['frobnicate']);
  expect(unknown.code).toBe(2);
});

it('survives kill -9 of the agent at several points: retry completes with every instance in Orthanc once', async () => {
  const { default: Database } = await import('better-sqlite3');
  const study = await generateStudy(join(workDir, 'killed'), { instances: 30, series: 3, rows: 256, columns: 256 });
  const relayDb = new Database(join(workDir, 'relay', 'relay.db'), { readonly: true, fileMustExist: true });
  const chunksSoFar = () => (relayDb.prepare('SELECT COUNT(*) AS n FROM upload_chunks').get() as { n: number }).n;
  try {
    for (let life = 0; life < 3; life++) {
      const before = chunksSoFar();
      const child = spawn(process.execPath, [AGENT, life === 0 ? 'upload' : 'retry', ...(life === 0 ? [join(workDir, 'killed')] : ['--all']), '--wait'], { env: world.agentEnv, stdio: 'ignore' });
      // Kill it once it has sent a few more chunks (the relay's own record of acknowledged chunks).
      const deadline = Date.now() + 30_000;
      while (chunksSoFar() < before + 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      expect(chunksSoFar()).toBeGreaterThan(before);
    }
    // Each instance is one chunk here: the kills left most of the study unsent.
    expect(chunksSoFar()).toBeLessThan(30);
  } finally {
    relayDb.close();
  }
  const final = await agent(['retry', '--all', '--wait', '--json']);
  expect(final.code, final.stderr).toBe(0);
  const held = await world.heldInOrthanc(study);
  expect(held).toHaveLength(30);
  expect(new Set(held).size).toBe(30);
}, 120_000);

it('watches a folder fed file by file and sends the study once, complete', async () => {
  const { copyFile, mkdir } = await import('node:fs/promises');
  const { default: Database } = await import('better-sqlite3');
  const inbox = join(workDir, 'inbox');
  await mkdir(inbox, { recursive: true });
  const study = await generateStudy(join(workDir, 'to-copy'), { instances: 6, rows: 64, columns: 64 });
  const watcher = spawn(process.execPath, [AGENT, 'watch', inbox, '--quiet', '1.5', '--stability', '0.3', '--json'], { env: world.agentEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  watcher.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  let errors = '';
  watcher.stderr.on('data', (d: Buffer) => { errors += d.toString(); });
  try {
    await expect.poll(() => errors, { timeout: 20_000 }).toContain('watching');
    // A modality exporting slowly: one file every 300 ms.
    for (const instance of study.instances) {
      await copyFile(instance.path, join(inbox, `IM${instance.instanceNumber}`));
      await new Promise((r) => setTimeout(r, 300));
    }
    await expect.poll(async () => (await world.heldInOrthanc(study)).length, { timeout: 30_000, interval: 250 }).toBe(6);
    await expect.poll(() => output, { timeout: 10_000 }).toContain(study.studyInstanceUid);
  } finally {
    watcher.kill('SIGTERM');
    await new Promise((r) => watcher.once('exit', r));
  }
  const relayDb = new Database(join(workDir, 'relay', 'relay.db'), { readonly: true, fileMustExist: true });
  try {
    const uploads = relayDb.prepare('SELECT COUNT(*) AS n FROM uploads WHERE study_instance_uid = ?').get(study.studyInstanceUid) as { n: number };
    expect(uploads.n).toBe(1);
  } finally {
    relayDb.close();
  }
  const outcome = JSON.parse(output.trim().split('\n').at(-1)!) as { state: string; instances: unknown[] };
  expect(outcome).toMatchObject({ state: 'confirmed' });
  expect(outcome.instances).toHaveLength(6);
}, 90_000);
