import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, TRANSFER_SYNTAX_NAMES, TRANSFER_SYNTAX_UIDS } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInstanceHeader } from '../../../src/core/dicom/header-reader.js';

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-header-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('readInstanceHeader', () => {
  it.each(TRANSFER_SYNTAX_NAMES)('reads %s headers, from a prefix that grows as needed', async (syntax) => {
    const study = await generateStudy(join(workDir, syntax), { instances: 1, rows: 64, columns: 64, transferSyntax: syntax, patient: { name: 'CANARY^HEADER' } });
    const instance = study.instances[0]!;
    for (const firstReadBytes of [200, 1024, 65536]) {
      const result = await readInstanceHeader(instance.path, { firstReadBytes });
      expect(result).toEqual({
        ok: true,
        header: {
          sopClassUid: instance.sopClassUid, sopInstanceUid: instance.sopInstanceUid, transferSyntaxUid: TRANSFER_SYNTAX_UIDS[syntax],
          instanceNumber: 1, numberOfFrames: null,
          patient: { id: study.patient.id, name: 'CANARY^HEADER', birthDate: study.patient.birthDate, sex: study.patient.sex },
          study: { instanceUid: study.studyInstanceUid, date: study.studyDate, time: expect.any(String), description: expect.any(String), accessionNumber: study.accessionNumber },
          series: { instanceUid: instance.seriesInstanceUid, number: 1, description: study.series[0]!.description, modality: 'CT' },
        },
      });
    }
  });

  it('reads only a small prefix of a large multi-frame instance', async () => {
    const study = await generateStudy(join(workDir, 'big'), { instances: 1, rows: 512, columns: 512, frames: 100 }); // 50 MB
    // Allowed to read at most 64 KiB in all: enough for the header, nothing near the pixel data.
    const result = await readInstanceHeader(study.instances[0]!.path, { firstReadBytes: 65536, maxHeaderBytes: 65536 });
    expect(result).toMatchObject({ ok: true, header: { numberOfFrames: 100, sopInstanceUid: study.instances[0]!.sopInstanceUid } });
  });

  it('refuses a header larger than the cap', async () => {
    const study = await generateStudy(join(workDir, 'cap'), { instances: 1, rows: 64, columns: 64 });
    const result = await readInstanceHeader(study.instances[0]!.path, { firstReadBytes: 64, maxHeaderBytes: 128 });
    expect(result).toMatchObject({ ok: false, code: 'FILE_NOT_DICOM', reason: 'the header is larger than 128 bytes' });
  });

  it('reads a raw explicit little endian data set without preamble', async () => {
    const study = await generateStudy(join(workDir, 'raw'), { instances: 1, rows: 8, columns: 8, transferSyntax: 'explicit-le' });
    const bytes = await readFile(study.instances[0]!.path);
    const raw = join(workDir, 'raw-explicit');
    await writeFile(raw, bytes.subarray(144 + bytes.readUInt32LE(140)));
    expect(await readInstanceHeader(raw)).toMatchObject({ ok: true, header: { transferSyntaxUid: '1.2.840.10008.1.2.1', sopInstanceUid: study.instances[0]!.sopInstanceUid } });
  });

  it('answers missing files and folders with a reason', async () => {
    expect(await readInstanceHeader(join(workDir, 'nothing-here'))).toEqual({ ok: false, code: 'FILE_UNREADABLE', reason: 'the file disappeared before it could be read' });
    expect(await readInstanceHeader(workDir)).toMatchObject({ ok: false, code: 'FILE_UNREADABLE' });
    const handle = await open(join(workDir, 'empty'), 'w');
    await handle.close();
    expect(await readInstanceHeader(join(workDir, 'empty'))).toEqual({ ok: false, code: 'FILE_NOT_DICOM', reason: 'the file is empty' });
  });
});
