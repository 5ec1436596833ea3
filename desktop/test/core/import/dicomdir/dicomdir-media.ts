// Builds real DICOM media for the DICOMDIR tests: a generated study laid out with ISO 9660 file IDs
// (DICOM/ST000001/SE000001/IM000001, PS3.10 §8.2) and a DICOMDIR written by DCMTK's dcmmkdir, the
// same tool many CD burners use.
import { execFile } from 'node:child_process';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateStudy } from '@relaypacs/testkit';

const run = promisify(execFile);

export interface Media {
  root: string;
  dicomdir: string;
  /** Absolute paths of the images the DICOMDIR lists, in the order dcmmkdir wrote them. */
  images: string[];
}

export async function buildMedia(root: string, spec: { instances: number; series: number }): Promise<Media> {
  const staging = `${root}.staging`;
  const study = await generateStudy(staging, { ...spec, rows: 16, columns: 16, modality: 'CT', extension: '' });
  const images: string[] = [];
  const seriesIndex = new Map(study.series.map((s, i) => [s.seriesInstanceUid, i + 1]));
  for (const instance of study.instances) {
    const folder = join(root, 'DICOM', 'ST000001', `SE${String(seriesIndex.get(instance.seriesInstanceUid)).padStart(6, '0')}`);
    await mkdir(folder, { recursive: true });
    const target = join(folder, `IM${String(instance.instanceNumber).padStart(6, '0')}`);
    await rename(instance.path, target);
    images.push(target);
  }
  await rm(staging, { recursive: true, force: true });
  // +r: recurse into DICOM/; +id: file IDs relative to the media root; -Pgp: general purpose CD profile.
  await run('dcmmkdir', ['-q', '-Pgp', '+r', '+id', root, '+D', join(root, 'DICOMDIR'), 'DICOM']);
  return { root, dicomdir: join(root, 'DICOMDIR'), images };
}

/** Renames every entry below `root` (and `root`'s own entries) to lower case, as some copies do. */
export async function lowerCaseTree(root: string): Promise<void> {
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const lower = join(root, entry.name.toLowerCase());
    if (entry.isDirectory()) await lowerCaseTree(join(root, entry.name));
    await rename(join(root, entry.name), lower);
  }
}

/** Re-encodes a DICOMDIR with DCMTK, keeping its meta header (+F): e.g. ['+ti'] for implicit VR. */
export async function reencode(input: string, output: string, options: string[]): Promise<void> {
  await run('dcmconv', ['-q', '+F', ...options, input, output]);
}

export async function modify(path: string, assignment: string): Promise<void> {
  await run('dcmodify', ['-q', '-nb', '-m', assignment, path]);
}
