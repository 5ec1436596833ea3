import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dcmdump, dumpedValue } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceItem } from '../../../../src/core/import/import-source.js';
import { photoSource } from '../../../../src/core/import/photo/photo-source.js';
import type { SecondaryCaptureAttributes } from '../../../../src/core/import/photo/photo-to-secondary-capture.js';
import { BLUE, RED, jpegJs, pngjsPng } from './photo-fixtures.js';

const ATTRIBUTES: SecondaryCaptureAttributes = {
  patientName: 'PHOTO^BATCH',
  patientId: 'BATCH-1',
  studyInstanceUid: '2.25.68720946171622412034779419102218880123',
};

describe('photoSource', () => {
  let work: string;
  let photos: { jpeg: string; png: string; broken: string; missing: string };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'relaypacs-photo-source-'));
    photos = { jpeg: join(work, 'wound.jpg'), png: join(work, 'request.png'), broken: join(work, 'broken.jpg'), missing: join(work, 'gone.jpg') };
    await writeFile(photos.jpeg, jpegJs(24, 16, () => RED));
    await writeFile(photos.png, pngjsPng({ width: 8, height: 8, colorType: 2, rgba: () => [...BLUE, 255] }));
    await writeFile(photos.broken, jpegJs(24, 16, () => RED).subarray(0, 200));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function collect(paths: string[], attributes: SecondaryCaptureAttributes, tempDir: string): Promise<SourceItem[]> {
    const items: SourceItem[] = [];
    for await (const item of photoSource(paths, attributes, tempDir)) items.push(item);
    return items;
  }

  it('yields one Secondary Capture file per photo, and a skipped item for each photo it cannot convert', async () => {
    const tempDir = join(work, 'temp-1');
    await mkdir(tempDir);
    const items = await collect([photos.jpeg, photos.broken, photos.png, photos.missing], ATTRIBUTES, tempDir);
    expect(items.map((item) => (item.kind === 'file' ? item.file.displayName : item.skipped.displayName))).toEqual([photos.jpeg, photos.broken, photos.png, photos.missing]);
    expect(items[1]).toEqual({ kind: 'skipped', skipped: { displayName: photos.broken, code: 'FILE_TRUNCATED', reason: expect.stringMatching(/JPEG ends/) } });
    expect(items[3]).toEqual({ kind: 'skipped', skipped: { displayName: photos.missing, code: 'FILE_UNREADABLE', reason: 'the photo could not be read (it does not exist)' } });

    const files = items.flatMap((item) => (item.kind === 'file' ? [item.file.path] : []));
    expect(files).toHaveLength(2);
    expect((await readdir(tempDir)).sort()).toEqual(files.map((path) => path.slice(tempDir.length + 1)).sort());
    const dumps = await Promise.all(files.map((path) => dcmdump(path)));
    // One series for the batch, numbered over the photos that made it.
    const series = dumps.map((dump) => dumpedValue(dump, '0020,000e'));
    expect(series[0]).toMatch(/^2\.25\./);
    expect(series[1]).toBe(series[0]);
    expect(dumps.map((dump) => dumpedValue(dump, '0020,0013'))).toEqual(['1', '2']);
    expect(dumps.map((dump) => dumpedValue(dump, '0010,0020'))).toEqual(['BATCH-1', 'BATCH-1']);
    expect(new Set(dumps.map((dump) => dumpedValue(dump, '0008,0018'))).size).toBe(2);
  });

  it('joins the series given and numbers from the instance number given', async () => {
    const tempDir = join(work, 'temp-2');
    await mkdir(tempDir);
    const seriesInstanceUid = '2.25.239856014290468755043536093212416346755';
    const items = await collect([photos.png, photos.jpeg], { ...ATTRIBUTES, seriesInstanceUid, instanceNumber: 11 }, tempDir);
    const dumps = await Promise.all(items.map((item) => dcmdump(item.kind === 'file' ? item.file.path : '')));
    expect(dumps.map((dump) => dumpedValue(dump, '0020,000e'))).toEqual([seriesInstanceUid, seriesInstanceUid]);
    expect(dumps.map((dump) => dumpedValue(dump, '0020,0013'))).toEqual(['11', '12']);
  });

  it('skips every photo, with the reason, when the attributes are invalid', async () => {
    const tempDir = join(work, 'temp-3');
    await mkdir(tempDir);
    const items = await collect([photos.jpeg, photos.png], { ...ATTRIBUTES, studyInstanceUid: 'not-a-uid' }, tempDir);
    expect(items.map((item) => item.kind === 'skipped' && item.skipped.code)).toEqual(['INVALID_REQUEST', 'INVALID_REQUEST']);
    expect(await readdir(tempDir)).toEqual([]);
  });

  it('creates a missing temp folder', async () => {
    const items = await collect([photos.jpeg], ATTRIBUTES, join(work, 'not-yet', 'there'));
    expect(items.map((i) => i.kind)).toEqual(['file']);
  });

  it('stops with the error when the temp folder cannot be written: no later photo could be', async () => {
    // A plain file where the temp folder should be: nothing can be created under it.
    const blocked = join(work, 'blocked');
    await writeFile(blocked, 'not a folder');
    await expect(collect([photos.jpeg], ATTRIBUTES, join(blocked, 'tmp'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
