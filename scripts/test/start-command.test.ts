// `npm start` on embedded defaults, as the README promises: the relay plus the agent watching an
// inbox, so a study dropped there ends up in the default destination folder. Runs with a private
// gnome-keyring (the agent keeps its sign-in in the system keychain).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort, generateStudy, startKeyringSession, type KeyringSession } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '../..');
let workDir: string;
let keyring: KeyringSession;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-start-'));
  keyring = await startKeyringSession();
});
afterAll(async () => {
  await keyring?.stop();
  await rm(workDir, { recursive: true, force: true });
});

it('starts the relay and an agent watching the inbox; a dropped study reaches the destination folder', async () => {
  const port = await freeLoopbackPort();
  // Headless even where an Electron binary exists: this test is about the relay and the agent.
  const env = { ...process.env, ...keyring.env, XDG_DATA_HOME: workDir, RELAYPACS_PORT: String(port), RELAYPACS_HEADLESS: '1' };
  const start = spawn('npm', ['start', '--silent'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  start.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  start.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  try {
    await expect.poll(() => output, { timeout: 60_000, interval: 200 }).toContain('watching');
    expect(output).toMatch(/no Electron binary on this machine|Electron found/);
    const inbox = join(workDir, 'relaypacs', 'inbox');
    const study = await generateStudy(join(inbox, 'from-modality'), { instances: 3, rows: 16, columns: 16 });
    const delivered = join(workDir, 'relaypacs', 'relay', 'delivered', study.studyInstanceUid);
    await expect.poll(() => readdir(delivered).catch(() => []), { timeout: 60_000, interval: 500 })
      .toEqual(study.instances.map((i) => `${i.sopInstanceUid}.dcm`).sort());
    // The console is for a person: the relay's JSON request log goes to its data folder instead.
    expect(output).not.toMatch(/^\s*\{"level":\d+/m);
    const relayLog = await readFile(join(workDir, 'relaypacs', 'relay', 'logs', 'relay.log'), 'utf8');
    expect(relayLog).toMatch(/"msg":"request completed"/);
  } finally {
    // npm, tsx and the two programs form one process group.
    try {
      process.kill(-start.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    await new Promise((r) => start.once('exit', r));
  }
}, 120_000);
