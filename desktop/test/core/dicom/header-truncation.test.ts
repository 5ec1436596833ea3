import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, TRANSFER_SYNTAX_NAMES } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseHeader, readInstanceHeader, type HeaderResult } from '../../../src/core/dicom/header-reader.js';
import { indexFile } from '../../../src/core/import/file-indexer.js';

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-header-cut-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

it.each(TRANSFER_SYNTAX_NAMES)('answers every cut-off %s header as not DICOM or truncated, never as unreadable', async (syntax) => {
  const study = await generateStudy(join(workDir, syntax), { instances: 1, rows: 8, columns: 8, transferSyntax: syntax });
  const bytes = await readFile(study.instances[0]!.path);
  const cutFile = join(workDir, `${syntax}-cut`);
  const headerEnd = bytes.length - 8 * 8 * 2;
  for (let cut = 1; cut < headerEnd; cut += 7) {
    await writeFile(cutFile, bytes.subarray(0, cut));
    const result = await readInstanceHeader(cutFile, { firstReadBytes: 64 });
    expect(result.ok ? 'ok' : result.code, `cut at ${cut}`).toMatch(/^(FILE_NOT_DICOM|FILE_TRUNCATED|ok)$/);
  }
});

// Found by the malformed-input fuzzer (faults/malformed-input.test.ts): a small file (read whole,
// as the import reads every file up to 1 MiB) cut inside an implicit VR value made the header
// reader of the time (dicom-parser) throw "attempt to read past end of buffer" when the value was
// read, and the import recorded FILE_UNREADABLE "it could not be read (undefined)" for a file it
// had read. Every cut is now answered, and the same from memory as from disk.
it.each(TRANSFER_SYNTAX_NAMES)('answers every cut of a small %s file read whole without throwing, as from disk', async (syntax) => {
  const study = await generateStudy(join(workDir, `${syntax}-whole`), { instances: 1, rows: 8, columns: 8, transferSyntax: syntax });
  const bytes = await readFile(study.instances[0]!.path);
  const cutFile = join(workDir, `${syntax}-whole-cut`);
  for (let cut = 1; cut < bytes.length; cut++) {
    let answer: string;
    let result: HeaderResult | undefined;
    try {
      result = await parseHeader(bytes.subarray(0, cut));
      answer = result.ok ? 'ok' : result.code;
    } catch (error) {
      answer = `threw ${String(error)}`;
    }
    expect(answer, `cut at ${cut}`).toMatch(/^(FILE_NOT_DICOM|FILE_TRUNCATED|ok)$/);
    if (cut % 7 === 0) {
      await writeFile(cutFile, bytes.subarray(0, cut));
      expect(await readInstanceHeader(cutFile, { firstReadBytes: 64 }), `cut at ${cut}`).toEqual(result);
    }
  }
});

it('records a small implicit VR file cut inside a value as truncated, not unreadable', async () => {
  const study = await generateStudy(join(workDir, 'implicit-indexed'), { instances: 1, rows: 8, columns: 8, transferSyntax: 'implicit-le' });
  const bytes = await readFile(study.instances[0]!.path);
  // Inside the value of the Study Instance UID (0020,000D): its tag, then a 32-bit length (PS3.5 §7.1.3).
  const cutFile = join(workDir, 'implicit-cut-in-value');
  const tag = bytes.indexOf(Buffer.from([0x20, 0x00, 0x0d, 0x00]), 132);
  await writeFile(cutFile, bytes.subarray(0, tag + 12));
  const result = await indexFile({ path: cutFile, displayName: cutFile });
  // The reason says where, never what: 4 of the UID's bytes are there, and are not shown.
  const declared = bytes.readUInt32LE(tag + 4);
  expect(result).toEqual({ ok: false, skipped: { displayName: cutFile, code: 'FILE_TRUNCATED', reason: `the file ends inside (0020,000D): its value starts at byte ${tag + 8} and declares ${declared} bytes, of which 4 are there` } });
});
