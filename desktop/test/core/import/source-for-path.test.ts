// What a radiographer drops, end to end into the catalog: exported media with a DICOMDIR, a folder
// holding a ZIP and a photo, a ZIP on its own.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalogDatabase, type CatalogDatabase } from '../../../src/core/catalog/catalog-database.js';
import { CatalogReader } from '../../../src/core/catalog/catalog-reader.js';
import { ImportRunsRepository } from '../../../src/core/catalog/import-runs-repository.js';
import { ImportService } from '../../../src/core/import/import-service.js';
import { sourceForPath } from '../../../src/core/import/source-for-path.js';
import { buildMedia } from './dicomdir/dicomdir-media.js';
import { yazlZip } from './zip/zip-test-support.js';

let workDir: string;
let db: CatalogDatabase;
let service: ImportService;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-source-'));
  db = openCatalogDatabase(join(workDir, 'catalog.db'));
  service = new ImportService({ db });
});
afterAll(async () => {
  db.close();
  await rm(workDir, { recursive: true, force: true });
});

describe('sourceForPath', () => {
  it('reads exported media through its DICOMDIR', async () => {
    const media = await buildMedia(join(workDir, 'cd'), { instances: 5, series: 2 });
    const { counts } = await service.run(media.root, sourceForPath(media.root, { tempDir: join(workDir, 'tmp') }));
    expect(counts).toMatchObject({ imported: 5, skipped: 0 });
    const paths = (db.prepare('SELECT path FROM instances WHERE path LIKE ?').all(`${media.root}/%`) as { path: string }[]).map((r) => r.path);
    expect(paths.sort()).toEqual([...media.images].sort());
  });

  it('opens ZIPs found in a folder, names photos, and imports the rest', async () => {
    const root = join(workDir, 'drop');
    const loose = await generateStudy(join(root, 'loose'), { instances: 2, rows: 8, columns: 8 });
    const zipped = await generateStudy(join(workDir, 'to-zip'), { instances: 3, rows: 8, columns: 8 });
    await yazlZip(join(root, 'from-colleague.zip'), (zip) => {
      for (const instance of zipped.instances) zip.addFile(instance.path, `study/${instance.instanceNumber}.dcm`);
    });
    await mkdir(join(root, 'photos'), { recursive: true });
    await writeFile(join(root, 'photos', 'wound.JPG'), Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
    const { counts, runId } = await service.run(root, sourceForPath(root, { tempDir: join(workDir, 'tmp') }));
    expect(counts).toMatchObject({ imported: 5, skipped: 1 });
    expect(new ImportRunsRepository(db).skips(runId)).toEqual([
      { displayName: join(root, 'photos', 'wound.JPG'), code: 'FILE_NOT_DICOM', reason: 'a photo, not DICOM: add photos to a study to send them' },
    ]);
    const reader = new CatalogReader(db);
    const fromZip = reader.study(zipped.studyInstanceUid)!.series[0]!.instances;
    expect(fromZip.map((i) => i.sha256).sort()).toEqual(zipped.instances.map((i) => i.sha256).sort());
    // The catalog shows where an instance came from, and keeps a readable copy for upload.
    expect(fromZip[0]!.displayName).toMatch(/^from-colleague\.zip › study\/\d\.dcm$/);
    expect(fromZip[0]!.path.startsWith(join(workDir, 'tmp'))).toBe(true);
    expect(reader.study(loose.studyInstanceUid)!.series[0]!.instances).toHaveLength(2);
  });

  it('hands photos to the photo hook: nothing imported for one it keeps, the item it answers for another', async () => {
    const root = join(workDir, 'with-photos');
    const study = await generateStudy(join(root, 'ct'), { instances: 2, rows: 8, columns: 8 });
    await writeFile(join(root, 'wound.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
    await writeFile(join(root, 'form.PNG'), Buffer.from('not really a PNG'));
    const seen: string[] = [];
    const source = sourceForPath(root, {
      tempDir: join(workDir, 'tmp'),
      photo: async (file) => {
        seen.push(file.displayName);
        // The hook's own answer for the form; the wound photo is kept (nothing to import).
        return file.path.endsWith('.PNG') ? { kind: 'skipped', skipped: { displayName: file.displayName, code: 'PHOTO_UNSUPPORTED', reason: 'kept out by the hook' } } : undefined;
      },
    });
    const { counts, runId, studyInstanceUids } = await service.run(root, source);
    expect(seen.sort()).toEqual([join(root, 'form.PNG'), join(root, 'wound.jpg')]);
    expect(counts).toMatchObject({ found: 3, imported: 2, skipped: 1 });
    expect(studyInstanceUids).toEqual([study.studyInstanceUid]);
    expect(new ImportRunsRepository(db).skips(runId)).toEqual([{ displayName: join(root, 'form.PNG'), code: 'PHOTO_UNSUPPORTED', reason: 'kept out by the hook' }]);
  });

  it('imports a ZIP given on its own', async () => {
    const study = await generateStudy(join(workDir, 'solo-src'), { instances: 2, rows: 8, columns: 8 });
    const archive = join(workDir, 'solo.zip');
    await yazlZip(archive, (zip) => {
      for (const instance of study.instances) zip.addFile(instance.path, `IM${instance.instanceNumber}`);
    });
    const { counts } = await service.run(archive, sourceForPath(archive, { tempDir: join(workDir, 'tmp') }));
    expect(counts).toMatchObject({ imported: 2, skipped: 0 });
  });
});
