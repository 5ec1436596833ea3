import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inflateRawSync } from 'node:zlib';

const run = promisify(execFile);

const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';

/** What dicom3tools' dciodvfy said about one file. */
export interface DciodvfyReport {
  /** The IOD it checked the object against (e.g. 'CTImage', 'SCImage'), or undefined when it found none. */
  iod: string | undefined;
  /** Every line it reports as an error ('Error - …', '… Error - …') or an abort. */
  errors: string[];
  warnings: string[];
  /** 0 when it reported no error; 1 when it reported any (or gave up on the file). */
  exitCode: number;
  /** Everything it printed (it prints to standard error only). */
  output: string;
}

/**
 * Runs dicom3tools' dciodvfy (PS3.3 IOD, module and attribute checker; Debian package
 * `dicom3tools`, installed by scripts/setup/system-packages.sh) on a Part 10 file.
 *
 * Debian's build has no zlib: it reads a Deflated Explicit VR Little Endian data set (PS3.5 §A.5)
 * as raw bytes and fails. For that syntax the data set is inflated here and checked on its own
 * (-input-nometa, explicit VR little endian); the File Meta Information is the same as in the
 * other syntaxes, which are checked whole.
 *
 * Throws, never skips, when dciodvfy is not installed: a check that cannot run must not pass.
 */
export async function dciodvfy(path: string): Promise<DciodvfyReport> {
  const bytes = await readFile(path);
  if (transferSyntaxOf(bytes) !== DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN) return runDciodvfy([path]);
  const work = await mkdtemp(join(tmpdir(), 'relaypacs-dciodvfy-'));
  try {
    const dataset = join(work, 'inflated-dataset');
    await writeFile(dataset, inflateRawSync(bytes.subarray(metaGroupEnd(bytes))));
    return await runDciodvfy(['-input-nometa', '-input-ts', EXPLICIT_VR_LITTLE_ENDIAN, dataset]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function runDciodvfy(args: string[]): Promise<DciodvfyReport> {
  let output: string;
  let exitCode = 0;
  try {
    const { stdout, stderr } = await run('dciodvfy', args, { maxBuffer: 16 * 1024 * 1024 });
    output = stdout + stderr;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string; code?: string | number };
    if (failure.code === 'ENOENT') {
      throw new Error('dciodvfy is not installed: install the Debian package dicom3tools (scripts/setup/system-packages.sh does)', { cause: error });
    }
    if (typeof failure.code !== 'number') throw error;
    exitCode = failure.code;
    output = (failure.stdout ?? '') + (failure.stderr ?? '');
  }
  const lines = output.split('\n').map((line) => line.trimEnd()).filter((line) => line !== '');
  return {
    // It names the IOD on a line of its own, before that IOD's findings.
    iod: lines.find((line) => /^[A-Za-z][A-Za-z0-9]*$/.test(line)),
    errors: lines.filter((line) => /\bError - |^Abort\b/.test(line)),
    warnings: lines.filter((line) => /\bWarning - /.test(line)),
    exitCode,
    output,
  };
}

/** Offset of the first data set byte: 132 + the (0002,0000) element (12 bytes) + its value. */
function metaGroupEnd(file: Buffer): number {
  if (file.toString('latin1', 128, 132) !== 'DICM' || file.readUInt16LE(132) !== 0x0002 || file.readUInt16LE(134) !== 0x0000) {
    throw new Error('not a Part 10 file starting with a File Meta Information Group Length');
  }
  return 144 + file.readUInt32LE(140);
}

/** (0002,0010) Transfer Syntax UID from the File Meta Information (explicit VR little endian, PS3.10 §7.1). */
function transferSyntaxOf(file: Buffer): string | undefined {
  const end = metaGroupEnd(file);
  for (let at = 132; at + 8 <= end; ) {
    const element = file.readUInt16LE(at + 2);
    const vr = file.toString('latin1', at + 4, at + 6);
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN'].includes(vr);
    const length = long ? file.readUInt32LE(at + 8) : file.readUInt16LE(at + 6);
    const valueAt = at + (long ? 12 : 8);
    if (element === 0x0010) return file.toString('latin1', valueAt, valueAt + length).replace(/[\0 ]+$/, '');
    at = valueAt + length;
  }
  return undefined;
}
