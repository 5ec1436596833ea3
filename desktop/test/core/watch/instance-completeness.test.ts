import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, type TransferSyntaxName } from '@relaypacs/testkit';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInstanceHeader } from '../../../src/core/dicom/header-reader.js';
import { wrapPhotoAsSecondaryCapture } from '../../../src/core/import/photo/photo-to-secondary-capture.js';
import { checkInstanceComplete } from '../../../src/core/watch/instance-completeness.js';

let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-completeness-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** Writes the first `fraction` of `bytes` and asks the two checks the watcher asks: header, then completeness. */
async function judge(bytes: Buffer, fraction: number, name: string): Promise<'header-not-ok' | 'complete' | 'incomplete'> {
  const path = join(workDir, name);
  await writeFile(path, bytes.subarray(0, Math.floor(bytes.length * fraction)));
  const header = await readInstanceHeader(path);
  if (!header.ok) return 'header-not-ok';
  return (await checkInstanceComplete(path, header.header.transferSyntaxUid)).complete ? 'complete' : 'incomplete';
}

const CUTS = [0.3, 0.6, 0.9, 0.999];

describe('is the whole instance there', () => {
  it.each<[TransferSyntaxName, number]>([
    ['explicit-le', 1], ['implicit-le', 1], ['explicit-be', 1], ['deflated-le', 1], ['explicit-le', 4],
  ])('%s, %i frame(s): complete only when every byte of the image data is in', async (transferSyntax, frames) => {
    const study = await generateStudy(join(workDir, `${transferSyntax}-${frames}`), { instances: 1, rows: 64, columns: 64, frames, transferSyntax });
    const bytes = await readFile(study.instances[0]!.path);
    expect(await judge(bytes, 1, `${transferSyntax}-${frames}-whole`)).toBe('complete');
    // A cut file never passes both checks (the header may already fail, which is just as safe).
    for (const cut of CUTS) expect(await judge(bytes, cut, `${transferSyntax}-${frames}-${cut}`), `cut at ${cut}`).not.toBe('complete');
    // Once the header is in, the completeness check is what holds the file back.
    expect(await judge(bytes, 0.9, `${transferSyntax}-${frames}-late`)).toBe('incomplete');
  });

  it('encapsulated (JPEG) image data: complete only with the sequence delimiter', async () => {
    const width = 64;
    const height = 48;
    const photo = join(workDir, 'photo.jpg');
    await writeFile(photo, jpeg.encode({ width, height, data: Buffer.alloc(width * height * 4, 0x80) }, 90).data);
    const out = join(workDir, 'photo.dcm');
    await wrapPhotoAsSecondaryCapture(photo, { patientName: 'TEST^WATCH', patientId: 'W1', studyInstanceUid: '1.2.826.0.1.3680043.2.1125.1' }, out);
    const bytes = await readFile(out);
    expect(await judge(bytes, 1, 'jpeg-whole')).toBe('complete');
    for (const cut of CUTS) expect(await judge(bytes, cut, `jpeg-${cut}`), `cut at ${cut}`).not.toBe('complete');
    expect(await judge(bytes, 0.999, 'jpeg-late')).toBe('incomplete');
  });
});
