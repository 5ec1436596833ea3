import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy } from '@relaypacs/testkit';
import { PNG } from 'pngjs';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openCatalogDatabase, type CatalogDatabase } from '../../../../src/core/catalog/catalog-database.js';
import { CatalogReader } from '../../../../src/core/catalog/catalog-reader.js';
import { folderSource } from '../../../../src/core/import/folder-source.js';
import { ImportService } from '../../../../src/core/import/import-service.js';
import { attributesForCatalogStudy } from '../../../../src/core/import/photo/attach-to-study.js';
import { photoSource } from '../../../../src/core/import/photo/photo-source.js';
import { jpegJs, leftRedRightBlue } from './photo-fixtures.js';

let workDir: string;
let db: CatalogDatabase;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-attach-'));
  db = openCatalogDatabase(join(workDir, 'catalog.db'));
});
afterAll(async () => {
  db.close();
  await rm(workDir, { recursive: true, force: true });
});

it('imports photos into the study they are attached to, as a new series', async () => {
  const study = await generateStudy(join(workDir, 'ct'), { instances: 2, series: 2, rows: 8, columns: 8 });
  const service = new ImportService({ db });
  await service.run('ct', folderSource(join(workDir, 'ct')));
  const reader = new CatalogReader(db);
  const attributes = attributesForCatalogStudy(reader, study.studyInstanceUid)!;
  expect(attributes).toMatchObject({ patientId: study.patient.id, patientName: study.patient.name, studyInstanceUid: study.studyInstanceUid, seriesNumber: 3 });
  const png = new PNG({ width: 4, height: 3 });
  png.data.fill(200);
  const photo = join(workDir, 'wound.png');
  await writeFile(photo, PNG.sync.write(png));
  // A baseline JPEG is kept compressed (encapsulated pixel data, which the indexer never reads).
  const jpeg = join(workDir, 'request.jpg');
  await writeFile(jpeg, jpegJs(16, 8, leftRedRightBlue(16)));
  const { counts } = await service.run('photos', photoSource([photo, jpeg], attributes, join(workDir, 'tmp')));
  expect(counts).toMatchObject({ imported: 2, skipped: 0 });
  const row = reader.study(study.studyInstanceUid)!;
  expect(row.series).toHaveLength(3);
  expect(row.series[2]).toMatchObject({ description: 'Photos', modality: 'XC', seriesNumber: 3 });
  expect(row.series[2]!.instances.map((i) => [i.sopClassUid, i.transferSyntaxUid])).toEqual([
    ['1.2.840.10008.5.1.4.1.1.7', '1.2.840.10008.1.2.1'],
    ['1.2.840.10008.5.1.4.1.1.7', '1.2.840.10008.1.2.4.50'],
  ]);
  expect(attributesForCatalogStudy(reader, '2.25.1')).toBeUndefined();
});
