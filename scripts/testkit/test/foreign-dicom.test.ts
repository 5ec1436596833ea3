import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COMPRESSED_TRANSFER_SYNTAX_UIDS, dataSetOf, isPart10, postForeignCorpus, writeForeignCorpus,
  type ForeignCase, type ForeignCaseKind, type OrthancMeasurement,
} from '../src/foreign-dicom.js';
import { dcmdump, dumpedValue, OrthancServer, TRANSFER_SYNTAX_UIDS } from '../src/index.js';

const run = promisify(execFile);

let workDir: string;
let corpusDir: string;
let cases: ForeignCase[];
let orthanc: OrthancServer;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-foreign-test-'));
  corpusDir = join(workDir, 'corpus');
  cases = await writeForeignCorpus(corpusDir);
  orthanc = await OrthancServer.start({ dicomWeb: false });
}, 120_000);

afterAll(async () => {
  await orthanc?.stop();
  await rm(workDir, { recursive: true, force: true });
});

const ofKind = (kind: ForeignCaseKind): ForeignCase[] => cases.filter((c) => c.kind === kind);
const byName = (name: string): ForeignCase => {
  const found = cases.find((c) => c.name === name);
  if (!found) throw new Error(`no case ${name}`);
  return found;
};

/** dcmdump's exit and output, without throwing on a refusal. */
async function dcmdumpResult(path: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run('dcmdump', ['-dc', path], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 });
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

describe('foreign DICOM corpus', () => {
  it('holds every kind issue 14 names, each file once, nothing else in the folder', async () => {
    const kinds = new Set(cases.map((c) => c.kind));
    for (const kind of ['part10', 'headerless', 'no-pixel-data', 'compressed', 'truncated', 'no-sop-instance-uid', 'no-series-instance-uid', 'duplicate-uid', 'acr-nema'] as const) {
      expect(kinds, kind).toContain(kind);
    }
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    expect((await readdir(corpusDir)).sort()).toEqual(cases.map((c) => basename(c.file)).sort());
    // Apart from the intended pair, no two files share a SOP Instance UID.
    const uids = cases.filter((c) => c.kind !== 'duplicate-uid').map((c) => c.sopInstanceUid).filter(Boolean);
    expect(new Set(uids).size).toBe(uids.length);
  });

  it('writes header-less data sets that start with a data element, in implicit and explicit VR, which DCMTK reads', async () => {
    const headerless = ofKind('headerless');
    expect(headerless.map((c) => c.transferSyntaxUid).sort()).toEqual(
      [TRANSFER_SYNTAX_UIDS['explicit-le'], TRANSFER_SYNTAX_UIDS['explicit-le'], TRANSFER_SYNTAX_UIDS['implicit-le']].sort(),
    );
    for (const c of [...headerless, ...ofKind('acr-nema')]) {
      const bytes = await readFile(c.file);
      expect(c.part10, c.name).toBe(false);
      expect(isPart10(bytes), c.name).toBe(false);
      expect(c.dataSet?.equals(bytes), c.name).toBe(true);
      // The first element is group 0008 (no preamble of zeros, no group 0002).
      expect(bytes.readUInt16LE(0), c.name).toBe(0x0008);
      // Explicit VR: the VR follows the tag; implicit: a 4-byte length does.
      const vr = bytes.toString('latin1', 4, 6);
      if (c.transferSyntaxUid === TRANSFER_SYNTAX_UIDS['explicit-le']) expect(vr, c.name).toMatch(/^[A-Z]{2}$/);
      else expect(vr, c.name).not.toMatch(/^[A-Z]{2}$/);
      const dump = await dcmdump(c.file);
      expect(dump, c.name).not.toContain('(0002,0010)');
      if (c.kind === 'headerless') {
        expect(dumpedValue(dump, '0008,0018'), c.name).toBe(c.sopInstanceUid);
        expect(c.pixelData, c.name).toBe(true);
      }
    }
  });

  it('writes complete objects without Pixel Data: SR, KOS, PDF, presentation state', async () => {
    const noPixel = ofKind('no-pixel-data');
    expect(noPixel.map((c) => c.sopClassUid).sort()).toEqual([
      '1.2.840.10008.5.1.4.1.1.104.1', '1.2.840.10008.5.1.4.1.1.11.1', '1.2.840.10008.5.1.4.1.1.88.11', '1.2.840.10008.5.1.4.1.1.88.59',
    ]);
    for (const c of noPixel) {
      const result = await dcmdumpResult(c.file);
      expect(result.ok, `${c.name}: ${result.output}`).toBe(true);
      expect(result.output, c.name).not.toMatch(/^\(7fe0,0010\)/m);
      expect(c.pixelData, c.name).toBe(false);
      expect(c.part10, c.name).toBe(true);
      expect(c.sopInstanceUid, c.name).toMatch(/^[\d.]+$/);
    }
    expect(await dcmdump(byName('no-pixel-encapsulated-pdf').file)).toMatch(/^\(0042,0011\) OB 25\\50\\44\\46/m);
    expect(byName('no-pixel-key-object-selection').transferSyntaxUid).toBe(TRANSFER_SYNTAX_UIDS['implicit-le']);
  });

  it('writes encapsulated Pixel Data in JPEG Lossless, RLE, JPEG-LS (DCMTK) and JPEG 2000 (GDCM)', async () => {
    const compressed = ofKind('compressed');
    expect(compressed.map((c) => c.transferSyntaxUid).sort()).toEqual(Object.values(COMPRESSED_TRANSFER_SYNTAX_UIDS).sort());
    for (const c of compressed) {
      const dump = await dcmdump(c.file);
      expect(dumpedValue(dump, '0002,0010'), c.name).toBe(c.transferSyntaxUid);
      expect(dump, c.name).toMatch(/^\(7fe0,0010\) OB \(PixelSequence/m);
    }
    // GDCM wrote that one: its own Implementation Class UID (1.2.826.0.1.3680043.2.1143, GDCM's root).
    expect(dumpedValue(await dcmdump(byName('compressed-jpeg2000-gdcm').file), '0002,0012')).toMatch(/^1\.2\.826\.0\.1\.3680043\.2\.1143/);
  });

  it('cuts the truncated files inside a value, and DCMTK refuses them', async () => {
    for (const c of ofKind('truncated')) {
      const t = c.truncation!;
      expect((await stat(c.file)).size, c.name).toBe(t.cutAt);
      expect(t.cutAt, c.name).toBeLessThan(t.originalSize);
      expect(t.cutAt, c.name).toBeGreaterThan(t.valueOffset);
      expect(t.cutAt, c.name).toBeLessThan(t.valueOffset + t.valueLength);
      expect(isPart10(await readFile(c.file)), c.name).toBe(true);
      expect((await dcmdumpResult(c.file)).ok, c.name).toBe(false);
    }
    expect(ofKind('truncated').map((c) => c.truncation?.tag).sort()).toEqual(['0010,0010', '7FE0,0010']);
  });

  it('writes a file without SOP Instance UID, and ACR-NEMA-like data without SOP Class or Instance UID', async () => {
    const missing = ofKind('no-sop-instance-uid')[0]!;
    const dump = await dcmdump(missing.file);
    expect(missing.sopInstanceUid).toBeUndefined();
    expect(dump).not.toMatch(/^\(0008,0018\)/m);
    expect(dump).toMatch(/^\(0008,0016\)/m);
    const acr = ofKind('acr-nema')[0]!;
    const acrDump = await dcmdump(acr.file);
    expect(acr.sopClassUid).toBeUndefined();
    expect(acr.sopInstanceUid).toBeUndefined();
    expect(acrDump).not.toMatch(/^\(0008,001[68]\)/m);
    expect(dumpedValue(acrDump, '0008,0010')).toBe('ACR-NEMA 2.0');
    expect(acrDump).toMatch(/^\(0008,0000\) UL/m);
  });

  it('writes two different files that share one SOP Instance UID', async () => {
    const copy = ofKind('duplicate-uid')[0]!;
    const original = byName(copy.sameUidAs!);
    expect(cases.indexOf(original)).toBeLessThan(cases.indexOf(copy));
    expect(copy.sopInstanceUid).toBe(original.sopInstanceUid);
    expect((await readFile(copy.file)).equals(await readFile(original.file))).toBe(false);
    expect(dumpedValue(await dcmdump(copy.file), '0010,0010')).toBe('DUPLICATE^COPY');
  });

  describe('posted file by file to a real Orthanc', () => {
    let measured: OrthancMeasurement[];
    beforeAll(async () => {
      measured = await postForeignCorpus(orthanc, cases);
    }, 120_000);

    it('stores exactly the cases whose expected verdict says so, under their SOP Instance UID', async () => {
      expect(measured.map((m) => [m.name, m.verdict])).toEqual(cases.map((c) => [c.name, c.expected]));
      for (const m of measured.filter((x) => x.verdict !== 'refused')) {
        expect(m.sopInstanceUid, m.name).toBe(byName(m.name).sopInstanceUid);
      }
      expect(await orthanc.countInstances()).toBe(cases.filter((c) => c.expected === 'stored').length);
    });

    it('keeps every stored file byte for byte: header-less data sets stay header-less (Orthanc adds no meta)', () => {
      for (const m of measured.filter((x) => x.verdict === 'stored')) {
        expect(m.storedIdentical, m.name).toBe(true);
        expect(m.storedDataSetIdentical, m.name).toBe(true);
        expect(m.storedPart10, m.name).toBe(byName(m.name).part10);
      }
    });

    it('says why it refuses: unparsable for truncated files, a missing tag for files without SOP Instance or Series Instance UID', () => {
      const refusal = (name: string) => measured.find((m) => m.name === name)!;
      for (const c of ofKind('truncated')) expect(refusal(c.name)).toMatchObject({ httpStatus: 400, error: expect.stringContaining('Bad file format') });
      for (const c of [...ofKind('no-sop-instance-uid'), ...ofKind('no-series-instance-uid'), ...ofKind('acr-nema')]) {
        expect(refusal(c.name)).toMatchObject({ httpStatus: 404, error: expect.stringContaining('Inexistent tag') });
      }
    });

    it('keeps the stripped data set equal to the one the generator wrote after its meta', async () => {
      const stripped = byName('headerless-stripped-explicit-le');
      const orthancId = await orthanc.findInstance(stripped.sopInstanceUid!);
      const stored = await orthanc.instanceFile(orthancId!);
      expect(dataSetOf(stored).equals(stripped.dataSet!)).toBe(true);
    });
  });
});
