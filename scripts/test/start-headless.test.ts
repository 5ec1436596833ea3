// `npm start` on a headless machine: no D-Bus at all in the environment (no DBUS_SESSION_BUS_ADDRESS,
// no user bus in $XDG_RUNTIME_DIR, no dbus-run-session), so no Secret Service. The start command
// says once that the agent keeps its sign-in in a 0600 file instead, and a study dropped in the
// inbox still reaches the destination folder.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort, generateStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '../..');
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-start-headless-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** Runs `npm start` with no D-Bus until `check` is done, then stops it (npm, tsx and the programs are one process group). */
async function withStart(port: number, check: (output: () => string) => Promise<void>): Promise<void> {
  const runtime = join(workDir, 'runtime');
  await mkdir(runtime, { recursive: true, mode: 0o700 });
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_DATA_HOME: workDir, XDG_RUNTIME_DIR: runtime, RELAYPACS_PORT: String(port), RELAYPACS_HEADLESS: '1' };
  for (const name of ['DBUS_SESSION_BUS_ADDRESS', 'DBUS_SYSTEM_BUS_ADDRESS', 'DISPLAY', 'WAYLAND_DISPLAY', 'CREDENTIALS_DIRECTORY', 'RELAYPACS_CREDENTIAL_STORE', 'RELAYPACS_POLICY_FILE']) delete env[name];
  const start = spawn('npm', ['start', '--silent'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  start.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  start.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  try {
    await check(() => output);
  } finally {
    try {
      process.kill(-start.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    await new Promise((r) => start.once('exit', r));
  }
}

it('with no D-Bus, the agent keeps its sign-in in a 0600 file, says so once, and a dropped study reaches the destination folder', async () => {
  const port = await freeLoopbackPort();
  const agentData = join(workDir, 'relaypacs', 'agent');
  const file = join(agentData, 'credentials.json');
  await withStart(port, async (output) => {
    await expect.poll(output, { timeout: 60_000, interval: 200 }).toContain('watching');
    const warnings = output().split('\n').filter((line) => line.includes('credentials.json'));
    expect(warnings).toEqual([`start: no system keychain answers here (no-session-bus), so the agent keeps its sign-in in ${file} (mode 0600) instead; set RELAYPACS_CREDENTIAL_STORE=keychain to refuse that.`]);
    expect(output()).not.toContain('could not sign in');
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const inbox = join(workDir, 'relaypacs', 'inbox');
    const study = await generateStudy(join(inbox, 'from-modality'), { instances: 3, rows: 16, columns: 16 });
    const delivered = join(workDir, 'relaypacs', 'relay', 'delivered', study.studyInstanceUid);
    await expect.poll(() => readdir(delivered).catch(() => []), { timeout: 60_000, interval: 500 })
      .toEqual(study.instances.map((i) => `${i.sopInstanceUid}.dcm`).sort());
    expect(output()).not.toContain('rpr_');
  });

  // Started again: the sign-in in the file is used, without signing in anew, and said once.
  await withStart(port, async (output) => {
    await expect.poll(output, { timeout: 60_000, interval: 200 }).toContain('watching');
    expect(output().split('\n').filter((line) => line.includes('credentials.json'))).toEqual([`start: the agent keeps its sign-in in ${file} (mode 0600), as an earlier start without a system keychain chose; remove that file to use the keychain.`]);
    expect(output()).not.toContain('could not sign in');
    const study = await generateStudy(join(workDir, 'relaypacs', 'inbox', 'second'), { instances: 2, rows: 16, columns: 16 });
    const delivered = join(workDir, 'relaypacs', 'relay', 'delivered', study.studyInstanceUid);
    await expect.poll(() => readdir(delivered).catch(() => []), { timeout: 60_000, interval: 500 })
      .toEqual(study.instances.map((i) => `${i.sopInstanceUid}.dcm`).sort());
  });
}, 240_000);
