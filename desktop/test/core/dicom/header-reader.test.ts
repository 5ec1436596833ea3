import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, TRANSFER_SYNTAX_NAMES, TRANSFER_SYNTAX_UIDS } from '@relaypacs/testkit';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createDeflateRaw, inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFLATED, parseHeader, readInstanceHeader } from '../../../src/core/dicom/header-reader.js';

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

/** Top-level explicit VR little endian elements of `dataSet` (no sequences), with `element` spliced in before the first tag ≥ `beforeTag`. */
function insertBefore(dataSet: Buffer, beforeTag: number, element: Buffer): Buffer {
  let at = 0;
  while (at < dataSet.length && ((dataSet.readUInt16LE(at) << 16) | dataSet.readUInt16LE(at + 2)) >>> 0 < beforeTag) {
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR', 'OD', 'OL', 'OV', 'SV', 'UV'].includes(dataSet.toString('latin1', at + 4, at + 6));
    at += long ? 12 + dataSet.readUInt32LE(at + 8) : 8 + dataSet.readUInt16LE(at + 6);
  }
  return Buffer.concat([dataSet.subarray(0, at), element, dataSet.subarray(at)]);
}

/**
 * Peak growth of this process's resident set while `run` runs (Linux: VmHWM, reset first), after
 * a full garbage collection so that an earlier test's garbage is not in the baseline; undefined
 * where the peak cannot be reset.
 */
async function peakGrowth(run: () => Promise<unknown>): Promise<number | undefined> {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const hwm = async () => Number(/^VmHWM:\s+(\d+)/m.exec(await readFile('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
  if (!await writeFile('/proc/self/clear_refs', '5').then(() => true, () => false)) {
    await run();
    return undefined;
  }
  const before = await hwm();
  await run();
  return (await hwm()) - before;
}

const MiB = 1024 * 1024;

describe('deflated data sets that inflate to far more than a header', () => {
  // Found by the malformed-input fuzzer (faults/malformed-input.test.ts): a 200 KB file whose data
  // set inflates to 200 MB was inflated whole, then copied, to read its header: 600 MB of memory
  // for one file, with 32 files indexed at once.

  /** A generated deflated instance with a private OB element of `zeros` zero bytes before the first element at or after `beforeTag`. */
  async function deflatedWithZeros(name: string, zeros: number, beforeTag: number): Promise<{ bytes: Buffer; sopInstanceUid: string }> {
    const study = await generateStudy(join(workDir, name), { instances: 1, rows: 8, columns: 8, transferSyntax: 'deflated-le' });
    const file = await readFile(study.instances[0]!.path);
    const metaEnd = 144 + file.readUInt32LE(140);
    const head = Buffer.alloc(12);
    head.writeUInt16LE(beforeTag >>> 16 | 1, 0);
    head.writeUInt16LE(0x1001, 2);
    head.write('OB', 4, 'latin1');
    head.writeUInt32LE(zeros, 8);
    const marker = Buffer.from('ZEROS HERE');
    const [before, after] = (() => {
      const withMarker = insertBefore(inflateRawSync(file.subarray(metaEnd)), beforeTag, Buffer.concat([head, marker]));
      const at = withMarker.indexOf(marker);
      return [withMarker.subarray(0, at), withMarker.subarray(at + marker.length)];
    })();
    const deflate = createDeflateRaw({ level: 9 });
    const parts: Buffer[] = [];
    deflate.on('data', (part: Buffer) => parts.push(part));
    const ended = new Promise((resolve) => deflate.once('end', resolve));
    deflate.write(before);
    const chunk = Buffer.alloc(MiB);
    for (let left = zeros; left > 0; left -= MiB) {
      if (!deflate.write(chunk)) await new Promise((resolve) => deflate.once('drain', resolve));
    }
    deflate.end(after);
    await ended;
    return { bytes: Buffer.concat([file.subarray(0, metaEnd), ...parts]), sopInstanceUid: study.instances[0]!.sopInstanceUid };
  }

  it('refuses one whose identifying attributes lie beyond 16 MB of inflated data, in bounded memory', async () => {
    // 200 MB of zeros before the Study Instance UID (0020,000D): under 1 MB on disk, so read whole.
    const { bytes } = await deflatedWithZeros('bomb-early', 200 * MiB, 0x00100000);
    expect(bytes.length).toBeLessThan(1024 * 1024);
    let result: ReturnType<typeof parseHeader> | undefined;
    const growth = await peakGrowth(async () => {
      result = parseHeader(bytes, true);
    });
    expect(result).toEqual({ ok: false, code: 'FILE_NOT_DICOM', reason: 'the deflated data set inflates to more than 16 MB before its pixel data' });
    if (growth !== undefined) expect(growth).toBeLessThan(150 * MiB);
    // The same through the growing prefixes of a file on disk.
    const path = join(workDir, 'bomb-early.dcm');
    await writeFile(path, bytes);
    expect(await readInstanceHeader(path, { firstReadBytes: 4096 })).toMatchObject({ ok: false, code: 'FILE_NOT_DICOM' });
  });

  it('reads one whose identifying attributes all come before the huge element, as it would a raw file', async () => {
    // After the UIDs and the image attributes, just before Pixel Data.
    const { bytes, sopInstanceUid } = await deflatedWithZeros('bomb-late', 200 * MiB, 0x7fe00010);
    const growth = await peakGrowth(async () => {
      expect(parseHeader(bytes, true)).toMatchObject({ ok: true, header: { sopInstanceUid, transferSyntaxUid: DEFLATED } });
    });
    if (growth !== undefined) expect(growth).toBeLessThan(150 * MiB);
  });
});

describe('headers of hundreds of thousands of sequence items', () => {
  // Found by the malformed-input fuzzer: dicom-parser keeps an object of about 1 KB per item, so a
  // 6 MB file holding one sequence of 400 000 empty items took 380 MB to index.

  /** A generated explicit VR little endian instance with a sequence of `items` empty undefined-length items before `beforeTag`. */
  async function withItems(name: string, items: number, beforeTag: number): Promise<{ path: string; sopInstanceUid: string }> {
    const study = await generateStudy(join(workDir, name), { instances: 1, rows: 8, columns: 8, transferSyntax: 'explicit-le' });
    const file = await readFile(study.instances[0]!.path);
    const metaEnd = 144 + file.readUInt32LE(140);
    const head = Buffer.from([0x08, 0x00, 0x40, 0x11, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff]); // (0008,1140) SQ, undefined length
    head.writeUInt16LE(beforeTag >>> 16 | 1, 0);
    const item = Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]);
    const end = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    const sequence = Buffer.concat([head, Buffer.alloc(item.length * items).fill(item), end]);
    const path = join(workDir, `${name}.dcm`);
    await writeFile(path, Buffer.concat([file.subarray(0, metaEnd), insertBefore(file.subarray(metaEnd), beforeTag, sequence)]));
    return { path, sopInstanceUid: study.instances[0]!.sopInstanceUid };
  }

  it('refuses one whose identifying attributes come after the items, in bounded memory', async () => {
    const { path } = await withItems('items-early', 400_000, 0x00100000);
    let result: Awaited<ReturnType<typeof readInstanceHeader>> | undefined;
    const growth = await peakGrowth(async () => {
      result = await readInstanceHeader(path);
    });
    expect(result).toEqual({ ok: false, code: 'FILE_NOT_DICOM', reason: 'the header holds more than 50000 sequence items before its pixel data' });
    if (growth !== undefined) expect(growth).toBeLessThan(150 * MiB);
  });

  it('reads one whose identifying attributes come before the items, as it would a header too large to read whole', async () => {
    const { path, sopInstanceUid } = await withItems('items-late', 400_000, 0x7fe00010);
    const growth = await peakGrowth(async () => {
      expect(await readInstanceHeader(path)).toMatchObject({ ok: true, header: { sopInstanceUid, transferSyntaxUid: '1.2.840.10008.1.2.1' } });
    });
    if (growth !== undefined) expect(growth).toBeLessThan(150 * MiB);
  });
});
