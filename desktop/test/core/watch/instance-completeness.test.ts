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

/**
 * Writes the first `fraction` of `bytes` and asks the two checks the watcher asks: header, then
 * completeness. A header cut short inside the image data still names its study ('header-truncated').
 */
async function judge(bytes: Buffer, fraction: number, name: string): Promise<'header-not-ok' | 'header-truncated' | 'complete' | 'incomplete'> {
  const path = join(workDir, name);
  await writeFile(path, bytes.subarray(0, Math.floor(bytes.length * fraction)));
  const header = await readInstanceHeader(path);
  if (!header.ok) return header.code === 'FILE_TRUNCATED' && header.studyInstanceUid ? 'header-truncated' : 'header-not-ok';
  return (await checkInstanceComplete(path)).complete ? 'complete' : 'incomplete';
}

/** The completeness check alone, on the first `fraction` of `bytes`. */
async function completeAlone(bytes: Buffer, fraction: number, name: string): Promise<boolean> {
  const path = join(workDir, name);
  await writeFile(path, bytes.subarray(0, Math.floor(bytes.length * fraction)));
  return (await checkInstanceComplete(path)).complete;
}

const CUTS = [0.3, 0.6, 0.9, 0.999];

describe('is the whole instance there', () => {
  it.each<[TransferSyntaxName, number]>([
    ['explicit-le', 1], ['implicit-le', 1], ['explicit-be', 1], ['deflated-le', 1], ['explicit-le', 4],
  ])('%s, %i frame(s): complete only when every byte of the image data is in', async (transferSyntax, frames) => {
    const study = await generateStudy(join(workDir, `${transferSyntax}-${frames}`), { instances: 1, rows: 64, columns: 64, frames, transferSyntax });
    const bytes = await readFile(study.instances[0]!.path);
    expect(await judge(bytes, 1, `${transferSyntax}-${frames}-whole`)).toBe('complete');
    // A cut file never passes both checks (the header may already fail, which is just as safe),
    // and the completeness check alone never calls it whole.
    for (const cut of CUTS) {
      expect(await judge(bytes, cut, `${transferSyntax}-${frames}-${cut}`), `cut at ${cut}`).not.toBe('complete');
      expect(await completeAlone(bytes, cut, `${transferSyntax}-${frames}-${cut}-alone`), `cut at ${cut}`).toBe(false);
    }
    // Native pixel data has a defined length: the header reader, like the relay, finds it does not
    // fit in the file, and names the study the watcher holds back. A deflated data set inflates
    // only as far as Pixel Data for the header: the completeness check inflates to its end.
    expect(await judge(bytes, 0.9, `${transferSyntax}-${frames}-late`)).toBe(transferSyntax === 'deflated-le' ? 'incomplete' : 'header-truncated');
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
    for (const cut of CUTS) {
      expect(await judge(bytes, cut, `jpeg-${cut}`), `cut at ${cut}`).not.toBe('complete');
      expect(await completeAlone(bytes, cut, `jpeg-${cut}-alone`), `cut at ${cut}`).toBe(false);
    }
    // The header ends at the encapsulated Pixel Data: only walking its fragments tells the cut.
    expect(await judge(bytes, 0.999, 'jpeg-late')).toBe('incomplete');
  });

  it('calls complete what it cannot judge: an object without Pixel Data, a file that is not DICOM', async () => {
    const study = await generateStudy(join(workDir, 'no-pixels'), { instances: 1, rows: 8, columns: 8, transferSyntax: 'explicit-le' });
    const bytes = await readFile(study.instances[0]!.path);
    // Pixel Data (7FE0,0010) OW is the last element: 12 bytes of header, 8 × 8 × 2 of value.
    expect(bytes.readUInt32LE(bytes.length - 140)).toBe(0x00107fe0);
    expect(await completeAlone(bytes.subarray(0, bytes.length - 140), 1, 'no-pixels.dcm')).toBe(true);
    expect(await completeAlone(Buffer.from('not a DICOM file at all, but long enough to look at'), 1, 'not-dicom.txt')).toBe(true);
  });
});
