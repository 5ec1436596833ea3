// `npx relaypacs ...` and `npx relaypacs-relay ...` in a checkout after `npm ci`, as the README
// says. relaypacs-relay is linked into node_modules/.bin by its workspace (server/); relaypacs is the
// root package's own bin, which npm does not link there: npx finds it in the root package.json and
// runs it through a link it keeps in its cache (npm/cli#5777). Run with an empty npm cache and npm
// offline, as on a fresh machine without the registry.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '../..');
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-npx-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

function npx(args: string[], cwd = repoRoot): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['--no-install', ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        // This Node (24) first, so npx and the programs it starts run on it.
        PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
        npm_config_cache: join(workDir, 'npm-cache'),
        npm_config_offline: 'true',
        npm_config_update_notifier: 'false',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

it('runs the agent: npx relaypacs --help', async () => {
  const result = await npx(['relaypacs', '--help']);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout).toMatch(/^Usage: relaypacs COMMAND/);
  expect(result.stdout).toContain('watch DIR...');
}, 30_000);

it('runs the relay: npx relaypacs-relay --help', async () => {
  const result = await npx(['relaypacs-relay', '--help']);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout).toMatch(/^Usage:\n {2}relaypacs-relay \[--port N\]/);
}, 30_000);

it('runs both from a folder below the root too', async () => {
  for (const [bin, usage] of [['relaypacs', /^Usage: relaypacs COMMAND/], ['relaypacs-relay', /relaypacs-relay \[--port N\]/]] as const) {
    const result = await npx([bin, '--help'], join(repoRoot, 'server'));
    expect(result.code, `${bin}: ${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(usage);
  }
}, 30_000);
