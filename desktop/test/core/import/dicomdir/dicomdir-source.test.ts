import { cp, mkdtemp, readFile, rename, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dicomdirSource } from '../../../../src/core/import/dicomdir/dicomdir-source.js';
import type { ImportSource, SourceItem } from '../../../../src/core/import/import-source.js';
import { buildMedia, lowerCaseTree, modify, reencode, type Media } from './dicomdir-media.js';

async function collect(source: ImportSource): Promise<SourceItem[]> {
  const items: SourceItem[] = [];
  for await (const item of source) items.push(item);
  return items;
}
const files = (items: SourceItem[]) => items.flatMap((item) => (item.kind === 'file' ? [item.file.path] : []));
const skipped = (items: SourceItem[]) => items.flatMap((item) => (item.kind === 'skipped' ? [item.skipped] : []));

describe('dicomdirSource', () => {
  let work: string;
  let pristine: Media;
  let copies = 0;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'relaypacs-dicomdir-'));
    pristine = await buildMedia(join(work, 'pristine'), { instances: 6, series: 2 });
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  /** A private copy of the pristine medium for a test to damage. */
  async function copyOfMedia(): Promise<Media> {
    const root = join(work, `copy-${++copies}`);
    await cp(pristine.root, root, { recursive: true });
    return { root, dicomdir: join(root, 'DICOMDIR'), images: pristine.images.map((path) => path.replace(pristine.root, root)) };
  }

  it('yields every file the DICOMDIR lists exactly once, in directory order, and never the DICOMDIR', async () => {
    const items = await collect(dicomdirSource(pristine.dicomdir));
    expect(skipped(items)).toEqual([]);
    expect(files(items)).toEqual(pristine.images);
    expect(items.every((item) => item.kind !== 'file' || item.file.displayName === item.file.path)).toBe(true);
  });

  it('finds the files of a lower-cased copy of the medium (ISO 9660 names on a case-sensitive disk)', async () => {
    const media = await copyOfMedia();
    await lowerCaseTree(media.root);
    const items = await collect(dicomdirSource(join(media.root, 'dicomdir')));
    expect(skipped(items)).toEqual([]);
    expect(files(items)).toEqual(media.images.map((path) => join(media.root, relative(media.root, path).toLowerCase())));
  });

  it('finds files shown with ISO 9660 version suffixes or trailing dots', async () => {
    const media = await copyOfMedia();
    const [first, second] = [media.images[0]!, media.images[1]!];
    await rename(first, `${first};1`);
    await rename(second, `${second}.`);
    const items = await collect(dicomdirSource(media.dicomdir));
    expect(skipped(items)).toEqual([]);
    expect(files(items)).toEqual([`${first};1`, `${second}.`, ...media.images.slice(2)]);
  });

  it('ignores a record marked not in use (Record In-use Flag 0000H)', async () => {
    const media = await copyOfMedia();
    await modify(media.dicomdir, '(0004,1220)[3].(0004,1410)=0');
    const items = await collect(dicomdirSource(media.dicomdir));
    expect(skipped(items)).toEqual([]);
    expect(files(items)).toEqual(media.images.slice(1));
  });

  it('reports a listed file that is missing and still yields the others', async () => {
    const media = await copyOfMedia();
    const gone = media.images[2]!;
    const kept = media.images.filter((path) => path !== gone);
    await unlink(gone);
    const items = await collect(dicomdirSource(media.dicomdir));
    expect(files(items)).toEqual(kept);
    expect(skipped(items)).toEqual([{ displayName: gone, code: 'FILE_UNREADABLE', reason: 'listed in DICOMDIR but missing' }]);
  });

  it.each([
    ['truncated', 'FILE_TRUNCATED', async (path: string) => truncate(path, 900)],
    ['garbage', 'FILE_NOT_DICOM', async (path: string) => writeFile(path, Buffer.from('this is not a DICOMDIR at all, just text that a viewer left behind\n'.repeat(20)))],
    ['empty', 'FILE_NOT_DICOM', async (path: string) => writeFile(path, Buffer.alloc(0))],
    ['zeroed after its header (unreadable sectors)', 'FILE_NOT_DICOM', async (path: string) => {
      const bytes = await readFile(path);
      bytes.fill(0, 400);
      await writeFile(path, bytes);
    }],
  ] as const)('falls back to scanning the folder when the DICOMDIR is %s', async (_name, code, damage) => {
    const media = await copyOfMedia();
    await damage(media.dicomdir);
    const items = await collect(dicomdirSource(media.dicomdir));
    expect(skipped(items)).toEqual([{ displayName: media.dicomdir, code, reason: expect.stringMatching(/every file in its folder is imported instead$/) }]);
    expect(items[0]?.kind).toBe('skipped');
    expect(files(items).sort()).toEqual([...media.images].sort());
  });

  it('falls back to scanning when the file named DICOMDIR is another kind of DICOM object', async () => {
    const media = await copyOfMedia();
    await cp(media.images[0]!, media.dicomdir);
    const items = await collect(dicomdirSource(media.dicomdir));
    expect(skipped(items)).toEqual([{ displayName: media.dicomdir, code: 'FILE_NOT_DICOM', reason: expect.stringContaining('not a media directory') }]);
    expect(files(items).sort()).toEqual([...media.images].sort());
  });

  it('falls back to scanning when the DICOMDIR is absurdly large, without reading it', async () => {
    const media = await copyOfMedia();
    await truncate(media.dicomdir, 300 * 1024 * 1024); // sparse: costs no disk
    const items = await collect(dicomdirSource(media.dicomdir));
    expect(skipped(items)).toEqual([{ displayName: media.dicomdir, code: 'FILE_NOT_DICOM', reason: expect.stringContaining('larger than any real one') }]);
    expect(files(items).sort()).toEqual([...media.images].sort());
  });

  it('falls back to scanning when the DICOMDIR does not exist', async () => {
    const media = await copyOfMedia();
    await unlink(media.dicomdir);
    const items = await collect(dicomdirSource(media.dicomdir));
    expect(skipped(items)).toEqual([{ displayName: media.dicomdir, code: 'FILE_UNREADABLE', reason: 'the DICOMDIR could not be opened (it does not exist); every file in its folder is imported instead' }]);
    expect(files(items).sort()).toEqual([...media.images].sort());
  });

  it('falls back to scanning when none of the listed files exist (folders renamed by a copy)', async () => {
    const media = await copyOfMedia();
    await rename(join(media.root, 'DICOM'), join(media.root, 'IMAGES'));
    const items = await collect(dicomdirSource(media.dicomdir));
    expect(skipped(items)).toEqual([{ displayName: media.dicomdir, code: 'FILE_UNREADABLE', reason: 'none of the 6 files the DICOMDIR lists were found; every file in its folder is imported instead' }]);
    expect(files(items).sort()).toEqual(media.images.map((path) => path.replace('/DICOM/', '/IMAGES/')).sort());
  });

  it('imports only what the DICOMDIR lists: viewer files and unlisted images beside it are left out', async () => {
    const media = await copyOfMedia();
    await writeFile(join(media.root, 'README.TXT'), 'Open VIEWER.EXE to see the images\n');
    await cp(media.images[0]!, join(media.root, 'DICOM', 'ST000001', 'EXTRA001'));
    const items = await collect(dicomdirSource(media.dicomdir));
    expect(skipped(items)).toEqual([]);
    expect(files(items)).toEqual(media.images);
  });

  it.each([
    ['implicit VR little endian', ['+ti']],
    ['explicit lengths for sequences and items', ['+e']],
  ])('reads a DICOMDIR encoded in %s', async (_name, options) => {
    const media = await copyOfMedia();
    const original = `${media.dicomdir}.orig`;
    await rename(media.dicomdir, original);
    await reencode(original, media.dicomdir, [...options]);
    await unlink(original);
    const items = await collect(dicomdirSource(media.dicomdir));
    expect(skipped(items)).toEqual([]);
    expect(files(items)).toEqual(media.images);
  });

  it('refuses a big endian DICOMDIR (PS3.10 §8.6 requires explicit VR little endian) and scans instead', async () => {
    const media = await copyOfMedia();
    const original = `${media.dicomdir}.orig`;
    await rename(media.dicomdir, original);
    await reencode(original, media.dicomdir, ['+tb']);
    await unlink(original);
    const items = await collect(dicomdirSource(media.dicomdir));
    expect(skipped(items)).toEqual([{ displayName: media.dicomdir, code: 'FILE_NOT_DICOM', reason: expect.stringContaining('transfer syntax') }]);
    expect(files(items).sort()).toEqual([...media.images].sort());
  });

  it('refuses a listed path that climbs out of the medium, and goes on with the rest', async () => {
    const media = await copyOfMedia();
    await writeFile(join(work, 'OUTSIDE'), 'not part of the medium');
    // Item 3 of the record sequence is the first IMAGE record (PATIENT, STUDY, SERIES come first).
    await modify(media.dicomdir, '(0004,1220)[3].(0004,1500)=..\\..\\OUTSIDE');
    const items = await collect(dicomdirSource(media.dicomdir));
    expect(files(items)).toEqual(media.images.slice(1));
    expect(skipped(items)).toEqual([{ displayName: `${media.dicomdir} › ..\\..\\OUTSIDE`, code: 'FILE_UNREADABLE', reason: 'listed in DICOMDIR with a path that leads outside the media folder' }]);
  });

  it('yields a file listed twice only once', async () => {
    const media = await copyOfMedia();
    await modify(media.dicomdir, '(0004,1220)[4].(0004,1500)=DICOM\\ST000001\\SE000001\\IM000001');
    const items = await collect(dicomdirSource(media.dicomdir));
    expect(skipped(items)).toEqual([]);
    expect(files(items)).toEqual(media.images.filter((path) => !path.endsWith(join('SE000001', 'IM000002'))));
  });
});
