import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGenArgs } from '../src/gen-args.js';
import type { GeneratedStudy } from '../src/index.js';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '../../..');

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-gen-cli-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('npm run gen', () => {
  it('writes the study and prints a JSON summary', async () => {
    const out = join(workDir, 'study');
    const manifest = join(workDir, 'manifest.json');
    const { stdout } = await run('npm', ['run', '--silent', 'gen', '--', '--out', out, '--instances', '5', '--series', '2', '--size', '16x24', '--seed', '3', '--manifest', manifest], { cwd: repoRoot });
    const summary = JSON.parse(stdout) as { instances: number; series: number; totalBytes: number; studyInstanceUid: string };
    expect(summary).toMatchObject({ instances: 5, series: 2 });
    expect((await readdir(join(out, 'S001'))).sort()).toEqual(['IM00001.dcm', 'IM00002.dcm', 'IM00003.dcm']);
    expect((await readdir(join(out, 'S002'))).sort()).toEqual(['IM00001.dcm', 'IM00002.dcm']);
    const study = JSON.parse(await readFile(manifest, 'utf8')) as GeneratedStudy;
    expect(study.studyInstanceUid).toBe(summary.studyInstanceUid);
    expect(study.instances.reduce((sum, i) => sum + i.size, 0)).toBe(summary.totalBytes);
  });

  it('exits 2 and names the bad option', async () => {
    const failure = await run('npm', ['run', '--silent', 'gen', '--', '--out', workDir, '--size', 'big'], { cwd: repoRoot }).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toMatch(/--size must look like 512x512, got "big"/);
  });
});

describe('parseGenArgs', () => {
  it('maps options onto a study spec', () => {
    expect(parseGenArgs(['--out', '/tmp/x', '--instances', '400', '--size', '512x256', '--bits', '8', '--frames', '3', '--transfer-syntax', 'explicit-be', '--modality', 'mr', '--no-extension'])).toMatchObject({
      out: '/tmp/x',
      spec: { instances: 400, rows: 512, columns: 256, bitsAllocated: 8, frames: 3, transferSyntax: 'explicit-be', modality: 'MR', extension: '' },
    });
  });

  it.each([
    [['--instances', '4'], /--out DIR is required/],
    [['--out', 'x', '--instances', '0'], /--instances must be a whole number/],
    [['--out', 'x', '--bits', '12'], /--bits must be 8 or 16/],
    [['--out', 'x', '--transfer-syntax', 'jpeg'], /--transfer-syntax must be one of/],
    [['--out', 'x', '--modality', 'XX'], /--modality must be CT, MR or OT/],
    [['--out', 'x', '--bogus'], /Unknown option '--bogus'/],
  ])('rejects %j', (args, message) => {
    expect(() => parseGenArgs(args)).toThrow(message);
  });
});
