// The README's two commands, ./start and ./test (issue 15): their set-up runs only what is missing.
// Run in dry-run mode (RELAYPACS_DRY_RUN=1) on a copy of the scripts and the lockfile, so nothing is
// installed and this checkout's node_modules is never touched.
import { spawnSync } from 'node:child_process';
import { copyFile, cp, mkdir, mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '../..');
let copy: string;

beforeEach(async () => {
  copy = await mkdtemp(join(tmpdir(), 'relaypacs-two-commands-'));
  await cp(join(repoRoot, 'scripts/setup'), join(copy, 'scripts/setup'), { recursive: true });
  for (const file of ['start', 'test', 'package-lock.json']) await copyFile(join(repoRoot, file), join(copy, file));
});
afterEach(async () => {
  await rm(copy, { recursive: true, force: true });
});

function dryRun(command: string, args: string[] = []): string {
  const result = spawnSync(join(copy, command), args, {
    cwd: copy,
    encoding: 'utf8',
    // This Node (24) first, so node24.sh has nothing to install.
    env: { ...process.env, RELAYPACS_DRY_RUN: '1', PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` },
  });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout + result.stderr;
}

async function stampAsInstalled(): Promise<void> {
  await mkdir(join(copy, 'node_modules'));
  const sha = createHash('sha256').update(readFileSync(join(copy, 'package-lock.json'))).digest('hex');
  await writeFile(join(copy, 'node_modules/.relaypacs-lockfile-sha256'), `${sha} abi${process.versions.modules}\n`);
}

it('./start runs npm ci when node_modules is missing, then npm start with its arguments', () => {
  const plan = dryRun('start', ['--stow-url', 'http://pacs.example/dicom-web']);
  expect(plan).toContain('would run: npm ci --no-audit --no-fund');
  expect(plan).toContain('would run: npm start -- --stow-url http://pacs.example/dicom-web');
});

it('./start skips npm ci while package-lock.json is the one installed, and runs it once the lockfile changes', async () => {
  await stampAsInstalled();
  const plan = dryRun('start');
  expect(plan).toContain('dependencies match package-lock.json');
  expect(plan).not.toContain('npm ci');
  await appendFile(join(copy, 'package-lock.json'), '\n');
  expect(dryRun('start')).toContain('would run: npm ci --no-audit --no-fund');
});

it('./test checks the Debian packages and runs lint, typecheck, npm test, the short bench and the fault suite or says SKIPPED', async () => {
  await stampAsInstalled();
  const plan = dryRun('test');
  expect(plan).toMatch(/setup: Debian packages present|would install Debian packages/);
  const steps = ['would run: npm run lint', 'would run: npm run typecheck', 'would run: npm test', 'would run: npm run --silent bench -- --short --no-docs'];
  for (const step of steps) expect(plan).toContain(step);
  expect(plan).toMatch(/would run: env RELAYPACS_FAULTS=short npm run test:faults|== fault suite SKIPPED/);
});

it('./test PATH... runs only npm test on those paths after the set-up', async () => {
  await stampAsInstalled();
  const plan = dryRun('test', ['server/test/ops']);
  expect(plan).toContain('would run: npm test -- server/test/ops');
  expect(plan).not.toContain('npm run lint');
});
