// The generator's files checked against PS3.3 by an independent validator: dicom3tools' dciodvfy
// (Debian dicom3tools, installed by scripts/setup/system-packages.sh). A missing dciodvfy fails
// these tests; it never skips them.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dciodvfy, generateStudy, TRANSFER_SYNTAX_NAMES, type StudySpec } from '../src/index.js';

const run = promisify(execFile);

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-gen-dciodvfy-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** Every kind of object the generator writes, with the IOD dciodvfy must recognise it as. */
const KINDS: { name: string; spec: Partial<StudySpec>; iod: string }[] = [
  { name: 'CT image', spec: { modality: 'CT' }, iod: 'CTImage' },
  { name: 'MR image', spec: { modality: 'MR' }, iod: 'MRImage' },
  { name: 'OT as single-frame SC', spec: { modality: 'OT' }, iod: 'SCImage' },
  { name: '8-bit CT as single-frame SC', spec: { modality: 'CT', bitsAllocated: 8 }, iod: 'SCImage' },
  { name: 'multi-frame word SC', spec: { modality: 'CT', frames: 3 }, iod: 'MultiframeGrayscaleWordSCImage' },
  { name: 'multi-frame byte SC', spec: { modality: 'OT', frames: 3, bitsAllocated: 8 }, iod: 'MultiframeGrayscaleByteSCImage' },
];

const CASES = TRANSFER_SYNTAX_NAMES.flatMap((transferSyntax) => KINDS.map((kind) => ({ ...kind, transferSyntax })));

describe('generateStudy output under dciodvfy', () => {
  it.each(CASES)('$name in $transferSyntax has no dciodvfy errors', async ({ name, spec, iod, transferSyntax }) => {
    const study = await generateStudy(join(workDir, `${name}-${transferSyntax}`.replaceAll(' ', '-')), {
      instances: 2, rows: 16, columns: 24, seed: 5, transferSyntax, ...spec,
      // Non-ASCII names take the ISO_IR 192 path (Specific Character Set, PS3.3 C.12.1.1.2).
      ...(transferSyntax === 'explicit-le' ? { patient: { name: 'MÜLLER^JÖRG' } } : {}),
    });
    for (const instance of study.instances) {
      const report = await dciodvfy(instance.path);
      expect({ iod: report.iod, errors: report.errors, exitCode: report.exitCode }, report.output).toEqual({ iod, errors: [], exitCode: 0 });
    }
  });

  it('fails an object that breaks its IOD (the check can fail)', async () => {
    const study = await generateStudy(join(workDir, 'broken'), { instances: 1, rows: 8, columns: 8, seed: 6, modality: 'CT' });
    const path = study.instances[0]!.path;
    // Patient Position (0018,5100) is Type 2C in General Series, required for CT (PS3.3 C.7.3.1).
    await run('dcmodify', ['-nb', '-e', '(0018,5100)', path]);
    const report = await dciodvfy(path);
    expect(report.exitCode).toBe(1);
    expect(report.errors).toEqual([expect.stringMatching(/PatientPosition/)]);
  });
});
