import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dcmdump, dumpedValue, generateStudy, TRANSFER_SYNTAX_NAMES, TRANSFER_SYNTAX_UIDS } from '../src/index.js';

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-gen-test-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** dcmdump prints the pixel data line with its length: "# 3072, 1 PixelData". */
function pixelDataLength(dump: string): number {
  const line = dump.split('\n').find((l) => l.startsWith('(7fe0,0010)'));
  const match = line && /#\s*(\d+),/.exec(line);
  if (!match) throw new Error('no Pixel Data in the dump');
  return Number(match[1]);
}

describe('generateStudy', () => {
  it.each(TRANSFER_SYNTAX_NAMES)('writes a %s study that DCMTK reads back with the requested attributes', async (syntax) => {
    const study = await generateStudy(join(workDir, syntax), {
      instances: 5, series: 2, rows: 32, columns: 48, transferSyntax: syntax, seed: 11,
      patient: { name: 'CANARY^SYNTHETIC' },
    });
    expect(study.instances).toHaveLength(5);
    expect(study.series.map((s) => s.instanceCount)).toEqual([3, 2]);
    expect(new Set(study.instances.map((i) => i.sopInstanceUid)).size).toBe(5);
    for (const instance of study.instances) {
      const dump = await dcmdump(instance.path);
      expect(dumpedValue(dump, '0002,0010')).toBe(TRANSFER_SYNTAX_UIDS[syntax]);
      expect(dumpedValue(dump, '0008,0018')).toBe(instance.sopInstanceUid);
      expect(dumpedValue(dump, '0002,0003')).toBe(instance.sopInstanceUid);
      expect(dumpedValue(dump, '0020,000d')).toBe(study.studyInstanceUid);
      expect(dumpedValue(dump, '0020,000e')).toBe(instance.seriesInstanceUid);
      expect(dumpedValue(dump, '0010,0010')).toBe('CANARY^SYNTHETIC');
      expect(dumpedValue(dump, '0010,0020')).toBe(study.patient.id);
      expect(dumpedValue(dump, '0008,0060')).toBe('CT');
      expect(dumpedValue(dump, '0028,0010')).toBe('32');
      expect(dumpedValue(dump, '0028,0011')).toBe('48');
      expect(pixelDataLength(dump)).toBe(32 * 48 * 2);
      const bytes = await readFile(instance.path);
      expect(bytes.length).toBe(instance.size);
      // Part 10 files are even in length; a deflated one is padded (PS3.5 §A.5).
      expect(bytes.length % 2).toBe(0);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(instance.sha256);
    }
  });

  it('encodes the same pixel values in every transfer syntax (big endian words are byte-swapped)', async () => {
    const pixelLines = await Promise.all(TRANSFER_SYNTAX_NAMES.map(async (syntax) => {
      const study = await generateStudy(join(workDir, `pixels-${syntax}`), { instances: 1, rows: 16, columns: 16, transferSyntax: syntax, seed: 5 });
      const dump = await dcmdump(study.instances[0]!.path, ['+P', '7fe0,0010']);
      return dump.trim();
    }));
    expect(pixelLines[0]).toMatch(/^\(7fe0,0010\) OW [0-9a-f]{4}\\/);
    for (const line of pixelLines) expect(line).toBe(pixelLines[0]);
  });

  it('writes multi-frame Secondary Capture with the frame count and all frames', async () => {
    const study = await generateStudy(join(workDir, 'multiframe'), { instances: 1, rows: 20, columns: 30, frames: 7, bitsAllocated: 8 });
    const dump = await dcmdump(study.instances[0]!.path);
    expect(dumpedValue(dump, '0008,0016')).toBe('1.2.840.10008.5.1.4.1.1.7.2');
    expect(dumpedValue(dump, '0028,0008')).toBe('7');
    expect(dumpedValue(dump, '0028,0100')).toBe('8');
    expect(pixelDataLength(dump)).toBe(20 * 30 * 7);
  });

  it('pads odd-length 8-bit pixel data to an even length', async () => {
    const study = await generateStudy(join(workDir, 'odd'), { instances: 1, rows: 3, columns: 3, bitsAllocated: 8 });
    const dump = await dcmdump(study.instances[0]!.path);
    expect(pixelDataLength(dump)).toBe(10);
  });

  it('writes MR and files without extension when asked', async () => {
    const study = await generateStudy(join(workDir, 'mr'), { instances: 2, rows: 8, columns: 8, modality: 'MR', extension: '' });
    expect(study.instances[0]!.path).toMatch(/IM00001$/);
    const dump = await dcmdump(study.instances[0]!.path);
    expect(dumpedValue(dump, '0008,0016')).toBe('1.2.840.10008.5.1.4.1.1.4');
    expect(dumpedValue(dump, '0018,0020')).toBe('SE');
  });

  it('reproduces a study exactly from its seed, and never repeats UIDs without one', async () => {
    const spec = { instances: 2, rows: 8, columns: 8, seed: 99 };
    const a = await generateStudy(join(workDir, 'seed-a'), spec);
    const b = await generateStudy(join(workDir, 'seed-b'), spec);
    expect(b.instances.map((i) => i.sha256)).toEqual(a.instances.map((i) => i.sha256));
    const c = await generateStudy(join(workDir, 'unseeded-c'), { instances: 2, rows: 8, columns: 8 });
    const d = await generateStudy(join(workDir, 'unseeded-d'), { instances: 2, rows: 8, columns: 8 });
    expect(c.studyInstanceUid).not.toBe(d.studyInstanceUid);
    for (const uid of [a.studyInstanceUid, c.studyInstanceUid, ...c.instances.map((i) => i.sopInstanceUid)]) {
      expect(uid).toMatch(/^2\.25\.(0|[1-9]\d*)$/);
      expect(uid.length).toBeLessThanOrEqual(64);
    }
  });

  it('refuses impossible specifications with a reason', async () => {
    await expect(generateStudy(join(workDir, 'bad'), { instances: 0 })).rejects.toThrow(/instances must be/);
    await expect(generateStudy(join(workDir, 'bad'), { instances: 2, series: 3 })).rejects.toThrow(/series must be/);
    await expect(generateStudy(join(workDir, 'bad'), { instances: 1, rows: 70000 })).rejects.toThrow(/rows must be/);
    await expect(generateStudy(join(workDir, 'bad'), { instances: 1, rows: 65535, columns: 65535, frames: 2 })).rejects.toThrow(/does not fit/);
  });

  it('leaves no partial file behind', async () => {
    const study = await generateStudy(join(workDir, 'atomic'), { instances: 1, rows: 8, columns: 8 });
    await expect(stat(`${study.instances[0]!.path}.partial`)).rejects.toThrow(/ENOENT/);
  });
});
