import { copyFile, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, type GeneratedStudy } from '@relaypacs/testkit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openCatalogDatabase, type CatalogDatabase } from '../../../src/core/catalog/catalog-database.js';
import { CatalogReader } from '../../../src/core/catalog/catalog-reader.js';
import { ImportRunsRepository } from '../../../src/core/catalog/import-runs-repository.js';
import { folderSource } from '../../../src/core/import/folder-source.js';
import type { ImportSource } from '../../../src/core/import/import-source.js';
import { ImportService } from '../../../src/core/import/import-service.js';

let workDir: string;
let db: CatalogDatabase;
let service: ImportService;
let reader: CatalogReader;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-import-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});
beforeEach(async () => {
  db = openCatalogDatabase(join(await mkdtemp(join(workDir, 'catalog-')), 'catalog.db'));
  service = new ImportService({ db, batchSize: 7 });
  reader = new CatalogReader(db);
});
afterEach(() => {
  db.close();
});

/** The catalog must hold exactly what the generator wrote, row by row. */
function expectCatalogHolds(study: GeneratedStudy): void {
  const row = reader.study(study.studyInstanceUid);
  expect(row, study.studyInstanceUid).toBeDefined();
  expect(row!.patient).toEqual({ patientId: study.patient.id, name: study.patient.name, birthDate: study.patient.birthDate, sex: study.patient.sex });
  expect(row!.studyDate).toBe(study.studyDate);
  expect(row!.accessionNumber).toBe(study.accessionNumber);
  expect(row!.series.map((s) => [s.seriesInstanceUid, s.seriesNumber, s.description, s.modality])).toEqual(
    study.series.map((s) => [s.seriesInstanceUid, s.seriesNumber, s.description, study.modality]));
  const instances = row!.series.flatMap((s) => s.instances);
  expect(instances).toHaveLength(study.instances.length);
  for (const generated of study.instances) {
    const found = instances.find((i) => i.sopInstanceUid === generated.sopInstanceUid);
    expect(found, generated.sopInstanceUid).toMatchObject({
      sopClassUid: generated.sopClassUid, instanceNumber: generated.instanceNumber, transferSyntaxUid: generated.transferSyntaxUid,
      size: generated.size, sha256: generated.sha256, path: generated.path,
    });
  }
}

describe('importing folders', () => {
  it('indexes every study of a nested folder, in every transfer syntax, files with and without extension', async () => {
    const root = join(workDir, 'modality-export');
    const ct = await generateStudy(join(root, 'CT'), { instances: 9, series: 3, rows: 32, columns: 32, transferSyntax: 'explicit-le' });
    const mr = await generateStudy(join(root, 'deep', 'er', 'MR'), { instances: 4, series: 2, rows: 16, columns: 16, modality: 'MR', transferSyntax: 'implicit-le', extension: '' });
    const big = await generateStudy(join(root, 'BE'), { instances: 2, rows: 16, columns: 16, transferSyntax: 'explicit-be' });
    const deflated = await generateStudy(join(root, 'DEF'), { instances: 2, rows: 16, columns: 16, transferSyntax: 'deflated-le' });
    const multiframe = await generateStudy(join(root, 'MF'), { instances: 1, rows: 512, columns: 512, frames: 8 });
    const { counts, runId } = await service.run(root, folderSource(root));
    expect(counts).toEqual({ found: 18, imported: 18, duplicates: 0, conflicts: 0, skipped: 0 });
    for (const study of [ct, mr, big, deflated, multiframe]) expectCatalogHolds(study);
    expect(reader.counts()).toEqual({ patients: 5, studies: 5, series: 8, instances: 18 });
    expect(new ImportRunsRepository(db).find(runId)).toMatchObject({ source: root, state: 'finished', imported: 18 });
  });

  it('counts a second import of the same files as duplicates, and keeps different bytes under a known UID as a conflict', async () => {
    const root = join(workDir, 'again');
    const study = await generateStudy(join(root, 'original'), { instances: 3, rows: 16, columns: 16 });
    await service.run(root, folderSource(root));
    const second = await service.run(root, folderSource(root));
    expect(second.counts).toEqual({ found: 3, imported: 0, duplicates: 3, conflicts: 0, skipped: 0 });
    // A re-export with the same SOP Instance UID but other pixel bytes.
    const altered = Buffer.from(await readFile(study.instances[0]!.path));
    altered[altered.length - 1] = (altered[altered.length - 1]! + 1) % 256;
    const otherDir = join(workDir, 'altered');
    await mkdir(otherDir, { recursive: true });
    await writeFile(join(otherDir, 'IM00001.dcm'), altered);
    const third = await service.run(otherDir, folderSource(otherDir));
    expect(third.counts).toMatchObject({ imported: 0, conflicts: 1 });
    expect(reader.conflicts()).toEqual([expect.objectContaining({ sopInstanceUid: study.instances[0]!.sopInstanceUid, existingPath: study.instances[0]!.path, newPath: join(otherDir, 'IM00001.dcm') })]);
    expectCatalogHolds(study); // the original row is untouched
  });

  it('of two files with one SOP Instance UID in one import, keeps the first by name, however long it takes to read', async () => {
    const root = join(workDir, 'same-uid');
    // A. is large (read and hashed last), B. is small (done first): the order of the folder decides, not the reads.
    const large = await generateStudy(join(workDir, 'same-uid-source'), { instances: 1, rows: 2048, columns: 2048, seed: 41 });
    const source = await readFile(large.instances[0]!.path);
    const pixelData = source.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
    const small = Buffer.from(source.subarray(0, pixelData + 12 + 16));
    small.writeUInt32LE(16, pixelData + 8); // explicit VR OW: 32-bit length after two reserved bytes (PS3.5 §7.1.2)
    await mkdir(root, { recursive: true });
    await writeFile(join(root, 'A-large.dcm'), source);
    // The same header with a short Pixel Data: another file under the same SOP Instance UID.
    await writeFile(join(root, 'B-small.dcm'), small);
    for (let run = 0; run < 3; run++) {
      const runDb = openCatalogDatabase(join(await mkdtemp(join(workDir, 'catalog-')), 'catalog.db'));
      try {
        const { counts } = await new ImportService({ db: runDb }).run(root, folderSource(root));
        expect(counts).toMatchObject({ imported: 1, conflicts: 1 });
        expect(new CatalogReader(runDb).conflicts()).toEqual([expect.objectContaining({ existingPath: join(root, 'A-large.dcm'), newPath: join(root, 'B-small.dcm') })]);
      } finally {
        runDb.close();
      }
    }
  });
});

describe('bad input', () => {
  it('skips every kind of bad file with a reason naming it, and imports the rest', async () => {
    const root = join(workDir, 'corpus');
    const good = await generateStudy(join(root, 'good'), { instances: 2, rows: 16, columns: 16 });
    const template = await readFile(good.instances[0]!.path);
    await writeFile(join(root, 'empty.dcm'), '');
    await writeFile(join(root, 'report.txt'), 'Referral letter\n'.repeat(100));
    await writeFile(join(root, 'tiny'), 'DI');
    await writeFile(join(root, 'truncated.dcm'), template.subarray(0, 600));
    const wrongMagic = Buffer.from(template);
    wrongMagic.write('DICN', 128, 'latin1');
    await writeFile(join(root, 'wrong-magic.dcm'), wrongMagic);
    // An element whose declared length runs far past the file: (0010,0010) PN with length 0xFFFF.
    const absurd = Buffer.from(template);
    const at = absurd.indexOf(Buffer.from([0x10, 0x00, 0x10, 0x00, 0x50, 0x4e]));
    absurd.writeUInt16LE(0xfffe, at + 6);
    await writeFile(join(root, 'absurd-length.dcm'), absurd);
    // A raw data set without preamble or meta header is still DICOM.
    const rawStudy = await generateStudy(join(workDir, 'raw-src'), { instances: 1, rows: 8, columns: 8, transferSyntax: 'implicit-le' });
    const rawBytes = await readFile(rawStudy.instances[0]!.path);
    await writeFile(join(root, 'raw-implicit'), rawBytes.subarray(144 + rawBytes.readUInt32LE(140)));

    const { counts, runId } = await service.run(root, folderSource(root));
    expect(counts).toMatchObject({ found: 9, imported: 3, skipped: 6 });
    const skips = new ImportRunsRepository(db).skips(runId);
    const byName = Object.fromEntries(skips.map((s) => [s.displayName.slice(root.length + 1), `${s.code}: ${s.reason}`]));
    expect(byName).toEqual({
      'empty.dcm': 'FILE_NOT_DICOM: the file is empty',
      'report.txt': expect.stringMatching(/^FILE_NOT_DICOM: no DICOM preamble/),
      tiny: expect.stringMatching(/^FILE_NOT_DICOM: the file is too short/),
      'truncated.dcm': expect.stringMatching(/^FILE_TRUNCATED: /),
      'wrong-magic.dcm': expect.stringMatching(/^FILE_NOT_DICOM: /),
      'absurd-length.dcm': expect.stringMatching(/^FILE_(TRUNCATED|NOT_DICOM): /),
    });
    // Sent in the Part 10 file made for it (file-meta-wrapping.test.ts), named as the user knows it.
    expect(reader.study(rawStudy.studyInstanceUid)!.series[0]!.instances[0]).toMatchObject({ transferSyntaxUid: '1.2.840.10008.1.2', displayName: join(root, 'raw-implicit'), fileMetaAdded: true });
    expectCatalogHolds(good);
  });

  it('reports files that vanish or cannot be read during the scan', async () => {
    const root = join(workDir, 'vanishing');
    const study = await generateStudy(root, { instances: 3, rows: 8, columns: 8 });
    const doomed = study.instances[1]!.path;
    // A source that lists a file which is deleted before it is indexed, as a share losing a file.
    async function* vanishing(): ImportSource {
      for await (const item of folderSource(root)) {
        if (item.kind === 'file' && item.file.path === doomed) await unlink(doomed);
        yield item;
      }
    }
    const { counts, runId } = await service.run(root, vanishing());
    expect(counts).toMatchObject({ imported: 2, skipped: 1 });
    expect(new ImportRunsRepository(db).skips(runId)).toEqual([{ displayName: doomed, code: 'FILE_UNREADABLE', reason: 'the file disappeared before it could be read' }]);
    const missingRoot = await service.run('gone', folderSource(join(workDir, 'no-such-folder')));
    expect(missingRoot.counts).toMatchObject({ found: 1, skipped: 1 });
  });

  it.skipIf(process.getuid?.() === 0)('reports a file without read permission (skipped when running as root, which reads everything)', async () => {
    const root = join(workDir, 'locked');
    const study = await generateStudy(root, { instances: 1, rows: 8, columns: 8 });
    const { chmod } = await import('node:fs/promises');
    await chmod(study.instances[0]!.path, 0o000);
    const { counts, runId } = await service.run(root, folderSource(root));
    expect(counts).toMatchObject({ skipped: 1 });
    expect(new ImportRunsRepository(db).skips(runId)[0]!.reason).toBe('permission denied');
  });

  it('survives a corpus of random and mutated files: no throw, every file accounted for', async () => {
    const root = join(workDir, 'fuzz');
    await mkdir(root, { recursive: true });
    const seedStudy = await generateStudy(join(workDir, 'fuzz-seed'), { instances: 1, rows: 16, columns: 16, seed: 1 });
    const template = await readFile(seedStudy.instances[0]!.path);
    let state = 12345;
    const random = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(template.subarray(0, Math.floor(random() * template.length) + 1));
      for (let flips = 0; flips < 1 + Math.floor(random() * 8); flips++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      await writeFile(join(root, `m${i}`), bytes);
    }
    const { counts } = await service.run(root, folderSource(root));
    expect(counts.found).toBe(300);
    expect(counts.imported + counts.duplicates + counts.conflicts + counts.skipped).toBe(300);
  });
});

describe('interrupted imports', () => {
  it('marks a run left running as interrupted, and a re-run completes it', async () => {
    const root = join(workDir, 'interrupted');
    const study = await generateStudy(root, { instances: 5, rows: 8, columns: 8 });
    const runs = new ImportRunsRepository(db);
    const orphan = runs.start(root);
    // The next service (a restarted app) finds it.
    const restarted = new ImportService({ db });
    expect(runs.find(orphan)!.state).toBe('interrupted');
    const { counts } = await restarted.run(root, folderSource(root));
    expect(counts.imported).toBe(5);
    expectCatalogHolds(study);
  });

  it('leaves a consistent catalog when the process is killed mid-import', async () => {
    const root = join(workDir, 'killed');
    await generateStudy(root, { instances: 400, rows: 8, columns: 8 });
    const catalogPath = join(workDir, 'killed.db');
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/import-folder.ts'), catalogPath, root], { stdio: ['ignore', 'pipe', 'inherit'] });
    // Kill it once it reports progress (some batches committed, others not).
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (/imported [1-9]/.test(chunk.toString())) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.once('exit', resolve));
    const killedDb = openCatalogDatabase(catalogPath);
    try {
      expect(killedDb.pragma('integrity_check', { simple: true })).toBe('ok');
      const orphans = killedDb.prepare(`SELECT COUNT(*) AS n FROM instances i LEFT JOIN series s ON s.id = i.series_row_id WHERE s.id IS NULL`).get() as { n: number };
      expect(orphans.n).toBe(0);
      const partial = (killedDb.prepare('SELECT COUNT(*) AS n FROM instances').get() as { n: number }).n;
      expect(partial).toBeLessThan(400);
      const again = await new ImportService({ db: killedDb }).run(root, folderSource(root));
      expect(again.counts.imported + again.counts.duplicates).toBe(400);
      expect(again.counts.duplicates).toBe(partial);
      expect(new ImportRunsRepository(killedDb).find(1)!.state).toBe('interrupted');
    } finally {
      killedDb.close();
    }
  }, 60_000);
});

describe('copies', () => {
  it('imports the same study from two places once', async () => {
    const a = join(workDir, 'copy-a');
    const study = await generateStudy(a, { instances: 2, rows: 8, columns: 8 });
    const b = join(workDir, 'copy-b');
    await mkdir(b, { recursive: true });
    for (const instance of study.instances) await copyFile(instance.path, join(b, `${instance.instanceNumber}.dcm`));
    await service.run(a, folderSource(a));
    const second = await service.run(b, folderSource(b));
    expect(second.counts).toMatchObject({ imported: 0, duplicates: 2 });
  });
});
