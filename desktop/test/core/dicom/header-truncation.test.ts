import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, TRANSFER_SYNTAX_NAMES } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readInstanceHeader } from '../../../src/core/dicom/header-reader.js';

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
