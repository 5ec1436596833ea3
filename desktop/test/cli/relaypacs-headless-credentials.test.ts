// The headless agent where no Secret Service exists: no D-Bus at all in its environment (no
// DBUS_SESSION_BUS_ADDRESS, no user bus in $XDG_RUNTIME_DIR, no dbus-run-session). It signs in and
// uploads with the file credential store when chosen, or with systemd credentials; refuses a
// credential file others can read, and a file store IT policy forbids. The real relay and Orthanc.
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateStudy, runNodeProgram, type ProgramResult } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AGENT, AgentWorld, DEVICE } from './agent-harness.js';

let world: AgentWorld;
let noBus: NodeJS.ProcessEnv;

beforeAll(async () => {
  world = await AgentWorld.start('relaypacs-headless-');
  const runtime = join(world.workDir, 'runtime');
  await mkdir(runtime, { mode: 0o700 });
  noBus = { ...process.env, XDG_RUNTIME_DIR: runtime };
  for (const name of ['DBUS_SESSION_BUS_ADDRESS', 'DBUS_SYSTEM_BUS_ADDRESS', 'DISPLAY', 'WAYLAND_DISPLAY', 'CREDENTIALS_DIRECTORY', 'RELAYPACS_CREDENTIAL_STORE', 'RELAYPACS_POLICY_FILE']) delete noBus[name];
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

function agent(dataDir: string, args: string[], env: NodeJS.ProcessEnv = {}, stdin = ''): Promise<ProgramResult> {
  return runNodeProgram(AGENT, args, { env: { ...noBus, RELAYPACS_AGENT_DATA: join(world.workDir, dataDir), ...env }, stdin });
}

function lastJson<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

it('with no bus, the keychain is refused; with --credential-store file the agent signs in, keeps the session in a 0600 file, and uploads', async () => {
  const login = ['login', '--relay', world.relay.url, '--user', DEVICE.user, '--password-stdin'];
  const refused = await agent('file-agent', login, {}, `${DEVICE.password}\n`);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('There is no D-Bus session bus');

  const signedIn = await agent('file-agent', [...login, '--credential-store', 'file'], {}, `${DEVICE.password}\n`);
  expect(signedIn.code, signedIn.stderr).toBe(0);
  const file = join(world.workDir, 'file-agent', 'credentials.json');
  expect(signedIn.stdout).toContain(`the session is kept in the file ${file} (mode 0600)`);
  expect(signedIn.stdout + signedIn.stderr).not.toContain('rpr_');
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  expect(await readFile(file, 'utf8')).toContain('rpr_');

  // Chosen by the environment this time, as a service unit would.
  const study = await generateStudy(join(world.workDir, 'file-study'), { instances: 3, rows: 32, columns: 32 });
  const upload = await agent('file-agent', ['upload', join(world.workDir, 'file-study'), '--wait', '--json'], { RELAYPACS_CREDENTIAL_STORE: 'file' });
  expect(upload.code, upload.stderr).toBe(0);
  expect(lastJson<{ jobs: { state: string }[] }>(upload.stdout).jobs[0]?.state).toBe('confirmed');
  expect(await world.heldInOrthanc(study)).toHaveLength(3);

  // The refresh token rotated and went back into the file, still 0600.
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  // status says where the session is kept.
  const status = await agent('file-agent', ['status'], { RELAYPACS_CREDENTIAL_STORE: 'file' });
  expect(status.code, status.stderr).toBe(0);
  expect(status.stdout).toContain(`credentials: kept in the file ${file} (mode 0600)`);

  // Others could read it now: refused at start, whatever the command, with the way to fix it and no secret in the output.
  await chmod(file, 0o644);
  const loose = await agent('file-agent', ['upload', join(world.workDir, 'file-study'), '--wait', '--json', '--credential-store', 'file']);
  expect(loose.code).toBe(1);
  expect(loose.stderr).toContain(`relaypacs: The credential file ${file} has mode 0644, so other users can read or change it, and RelayPACS refuses to use it; run \`chmod 600 ${file}\` and try again.`);
  expect(loose.stdout + loose.stderr).not.toContain('rpr_');
  await chmod(file, 0o600);
}, 120_000);

it('with systemd credentials ($CREDENTIALS_DIRECTORY) the agent signs itself in and uploads, leaving no secret in its data folder', async () => {
  const credentials = join(world.workDir, 'credentials');
  await mkdir(credentials, { mode: 0o500 });
  // What LoadCredential=/SetCredential= leave: one read-only file per credential (systemd.exec(5)).
  await writeFile(join(credentials, 'relaypacs-relay'), `${world.relay.url}\n`, { mode: 0o400 });
  await writeFile(join(credentials, 'relaypacs-user'), `${DEVICE.user}\n`, { mode: 0o400 });
  await writeFile(join(credentials, 'relaypacs-password'), `${DEVICE.password}\n`, { mode: 0o400 });
  const env = { CREDENTIALS_DIRECTORY: credentials };

  const status = await agent('systemd-agent', ['status', '--json'], env);
  expect(status.code, status.stderr).toBe(0);
  expect(JSON.parse(status.stdout)).toMatchObject({ session: { relayUrl: world.relay.url, username: DEVICE.user }, credentials: 'in memory (the password comes from systemd credentials)' });

  const study = await generateStudy(join(world.workDir, 'systemd-study'), { instances: 2, rows: 32, columns: 32 });
  const upload = await agent('systemd-agent', ['upload', join(world.workDir, 'systemd-study'), '--wait', '--json'], env);
  expect(upload.code, upload.stderr).toBe(0);
  expect(lastJson<{ jobs: { state: string }[] }>(upload.stdout).jobs[0]?.state).toBe('confirmed');
  expect(await world.heldInOrthanc(study)).toHaveLength(2);
  // Refresh tokens stayed in memory: no credential file, no token or password in any file of the data folder.
  const dataDir = join(world.workDir, 'systemd-agent');
  for (const name of await readdir(dataDir)) {
    if (name === 'tmp' || name === 'wrapped') continue;
    const bytes = await readFile(join(dataDir, name));
    expect(bytes.includes('rpr_') || bytes.includes(DEVICE.password), name).toBe(false);
  }

  // A second run signs in again with the password (the first run's tokens died with it).
  const again = await agent('systemd-agent', ['upload', join(world.workDir, 'systemd-study'), '--wait', '--json'], env);
  expect(again.code, again.stderr).toBe(0);

  // A credential others can read is refused with the sentence saying how to fix it.
  const password = join(credentials, 'relaypacs-password');
  await chmod(password, 0o644);
  const loose = await agent('systemd-agent', ['status'], env);
  expect(loose.code).toBe(1);
  expect(loose.stderr).toContain(`The systemd credential ${password} has mode 0644, so other users can read or change it, and RelayPACS refuses to use it; run \`chmod 600 ${password}\``);
  expect(loose.stderr).not.toContain(DEVICE.password);
}, 120_000);

it('refuses the file store when IT policy forbids it, and does not fall back to anything', async () => {
  const policy = join(world.workDir, 'policy.json');
  await writeFile(policy, JSON.stringify({ allowFileCredentialStore: false }));
  const login = await agent('forbidden-agent', ['login', '--relay', world.relay.url, '--user', DEVICE.user, '--password-stdin', '--credential-store', 'file'],
    { RELAYPACS_POLICY_FILE: policy }, `${DEVICE.password}\n`);
  expect(login.code).toBe(1);
  expect(login.stderr).toContain(`relaypacs: IT policy (allowFileCredentialStore in ${policy}) forbids keeping credentials in a file, so the agent does not;`);
  expect(await readdir(join(world.workDir, 'forbidden-agent')).catch(() => [])).not.toContain('credentials.json');
}, 60_000);
