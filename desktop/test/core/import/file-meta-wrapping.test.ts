// Issue 14: data sets stored without the Part 10 header (no preamble, "DICM" or file meta) are sent
// wrapped in a meta header built per PS3.10 §7.1, the data set's bytes unchanged; the relay's
// validator takes the result.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, type TransferSyntaxName } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validatePart10 } from '../../../../server/src/dicom/part10-validator.js';
import { DEFAULT_ALLOWED_SOP_CLASSES } from '@relaypacs/dicom';
import { openCatalogDatabase } from '../../../src/core/catalog/catalog-database.js';
import { CatalogReader } from '../../../src/core/catalog/catalog-reader.js';
import { aeTitleFor } from '../../../src/core/import/file-meta-wrapping.js';
import { folderSource } from '../../../src/core/import/folder-source.js';
import { ImportService } from '../../../src/core/import/import-service.js';
import { JobViews } from '../../../src/app/job-views.js';
import { TransferSpeed } from '../../../src/app/transfer-speed.js';
import { UploadJobsRepository } from '../../../src/core/upload/upload-jobs-repository.js';

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-wrap-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** The data set of a Part 10 file: what follows the preamble, "DICM" and the meta group (PS3.10 §7.1). */
function dataSetOf(part10: Buffer): Buffer {
  return part10.subarray(144 + part10.readUInt32LE(140));
}

describe('bare data sets', () => {
  it.each(['implicit-le', 'explicit-le'] as TransferSyntaxName[])('are catalogued as Part 10 files made for them, the %s data set unchanged', async (syntax) => {
    const generated = await generateStudy(join(workDir, `gen-${syntax}`), { instances: 3, rows: 16, columns: 16, transferSyntax: syntax });
    const folder = join(workDir, `bare-${syntax}`);
    await mkdir(folder, { recursive: true });
    const dataSets = new Map<string, Buffer>();
    for (const [n, instance] of generated.instances.entries()) {
      const dataSet = dataSetOf(await readFile(instance.path));
      dataSets.set(instance.sopInstanceUid, dataSet);
      await writeFile(join(folder, `IM${n}`), dataSet);
    }
    const dataDir = await mkdtemp(join(workDir, 'agent-'));
    const db = openCatalogDatabase(join(dataDir, 'catalog.db'));
    try {
      const result = await new ImportService({ db, sourceAeTitle: 'CT-WS-01' }).run(folder, folderSource(folder));
      expect(result.counts).toMatchObject({ found: 3, imported: 3, skipped: 0 });
      const instances = new CatalogReader(db).study(generated.studyInstanceUid)!.series.flatMap((s) => s.instances);
      expect(instances).toHaveLength(3);
      for (const instance of instances) {
        expect(instance.fileMetaAdded).toBe(true);
        expect(instance.path.startsWith(join(dataDir, 'wrapped'))).toBe(true);
        expect(instance.displayName).toMatch(/bare-[a-z-]+\/IM\d$/);
        const sent = await readFile(instance.path);
        // The data set's bytes are exactly the original file's; the size and hash are of what is sent.
        expect(dataSetOf(sent).equals(dataSets.get(instance.sopInstanceUid)!)).toBe(true);
        expect(instance.size).toBe(sent.length);
        // The relay's validator accepts it as it is, for the data set's own UIDs and transfer syntax.
        const verdict = await validatePart10(async (start, end) => sent.subarray(start, end), sent.length, {
          studyInstanceUid: generated.studyInstanceUid, sopInstanceUid: instance.sopInstanceUid, sopClassUid: instance.sopClassUid,
          allowedSopClasses: new Set(DEFAULT_ALLOWED_SOP_CLASSES),
        });
        expect(verdict).toMatchObject({ ok: true, transferSyntaxUid: generated.instances[0]!.transferSyntaxUid });
        expect(sent.toString('latin1').includes('CT-WS-01')).toBe(true);
      }
      // The queue and the history say so for the study's job.
      const jobId = new UploadJobsRepository(db).enqueue(generated.studyInstanceUid, 'ROUTINE');
      const views = new JobViews(db, new TransferSpeed());
      expect(views.queue().find((item) => item.jobId === jobId)).toMatchObject({ instanceCount: 3, fileHeaderAdded: 3 });
      db.prepare(`UPDATE upload_jobs SET state = 'delivered', finished_at = ? WHERE id = ?`).run(new Date().toISOString(), jobId);
      expect(views.history({}).find((item) => item.jobId === jobId)).toMatchObject({ fileHeaderAdded: 3 });
      // Importing the same folder again finds the same files: duplicates, not new instances.
      expect((await new ImportService({ db, sourceAeTitle: 'CT-WS-01' }).run(folder, folderSource(folder))).counts).toMatchObject({ duplicates: 3, imported: 0 });
    } finally {
      db.close();
    }
  });

  it('leaves Part 10 files as they are', async () => {
    const generated = await generateStudy(join(workDir, 'part10'), { instances: 2, rows: 16, columns: 16 });
    const db = openCatalogDatabase(join(await mkdtemp(join(workDir, 'agent-')), 'catalog.db'));
    try {
      await new ImportService({ db }).run('part10', folderSource(join(workDir, 'part10')));
      const instances = new CatalogReader(db).study(generated.studyInstanceUid)!.series.flatMap((s) => s.instances);
      expect(instances.map((i) => [i.path, i.fileMetaAdded])).toEqual(expect.arrayContaining(generated.instances.map((i) => [i.path, undefined])));
    } finally {
      db.close();
    }
  });

  it('names the workstation as an AE title DICOM allows', () => {
    expect(aeTitleFor('ct-ws-01.radiology.hospital.example')).toBe('CT-WS-01');
    expect(aeTitleFor('a-very-long-workstation-name')).toBe('A-VERY-LONG-WORK');
    expect(aeTitleFor('ÿ')).toBe('RELAYPACS');
  });
});
