import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, TRANSFER_SYNTAX_NAMES, TRANSFER_SYNTAX_UIDS } from '@relaypacs/testkit';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createDeflateRaw, inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANY_SOP_CLASS } from '@relaypacs/dicom';
import { validatePart10, type ValidationResult } from '../../../../server/src/dicom/part10-validator.js';
import { DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN as DEFLATED } from '@relaypacs/dicom';
import { parseHeader, readInstanceHeader, type HeaderResult } from '../../../src/core/dicom/header-reader.js';

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
    expect(result).toEqual({ ok: false, code: 'FILE_NOT_DICOM', reason: 'more than 128 bytes had to be read without reaching the pixel data or the end of the data set' });
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

/** What names an instance for the relay: the manifest the agent would send with it. */
interface InstanceIds {
  studyInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
}

/** The relay's verdict on a Part 10 file held in memory (server/src/dicom/part10-validator.ts). */
async function relayVerdict(bytes: Buffer, ids: InstanceIds, maxHeaderBytes?: number): Promise<ValidationResult> {
  return validatePart10(async (start, end) => bytes.subarray(start, end), bytes.length, { ...ids, allowedSopClasses: new Set([ANY_SOP_CLASS]) }, maxHeaderBytes === undefined ? {} : { maxHeaderBytes });
}

/** The refusal both readers give when a header needs more than `limit` bytes read (or inflated). */
const tooLarge = (limit: string) => `more than ${limit} had to be read without reaching the pixel data or the end of the data set`;

describe('deflated data sets that inflate to far more than a header', () => {
  // Found by the malformed-input fuzzer (faults/malformed-input.test.ts): a 200 KB file whose data
  // set inflates to 200 MB was inflated whole, then copied, to read its header: 600 MB of memory
  // for one file, with 32 files indexed at once. The reading core inflates on demand, in slices,
  // and at most as much as a header may be read (16 MiB).

  /** A generated deflated instance with a private OB element of `zeros` zero bytes before the first element at or after `beforeTag`. */
  async function deflatedWithZeros(name: string, zeros: number, beforeTag: number): Promise<{ bytes: Buffer; ids: InstanceIds }> {
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
    const { sopInstanceUid, sopClassUid } = study.instances[0]!;
    return { bytes: Buffer.concat([file.subarray(0, metaEnd), ...parts]), ids: { studyInstanceUid: study.studyInstanceUid, sopInstanceUid, sopClassUid } };
  }

  it('refuses one whose identifying attributes lie beyond 16 MiB of inflated data, in bounded memory', async () => {
    // 200 MB of zeros before the Study Instance UID (0020,000D): under 1 MB on disk, so read whole.
    const { bytes, ids } = await deflatedWithZeros('bomb-early', 200 * MiB, 0x00100000);
    expect(bytes.length).toBeLessThan(1024 * 1024);
    let result: HeaderResult | undefined;
    const growth = await peakGrowth(async () => {
      result = await parseHeader(bytes);
    });
    expect(result).toEqual({ ok: false, code: 'FILE_NOT_DICOM', reason: tooLarge('16 MiB') });
    if (growth !== undefined) expect(growth).toBeLessThan(150 * MiB);
    // The same through bounded reads of a file on disk, and the same as the relay.
    const path = join(workDir, 'bomb-early.dcm');
    await writeFile(path, bytes);
    expect(await readInstanceHeader(path, { firstReadBytes: 4096 })).toEqual(result);
    expect(await relayVerdict(bytes, ids)).toEqual({ ok: false, code: 'HEADER_TOO_LARGE', reason: tooLarge('16 MiB') });
  });

  it('refuses one whose huge element comes after the identifying attributes too, as the relay does, in bounded memory', async () => {
    // Just before Pixel Data: the walk must inflate past the 200 MB to reach the pixel data or the
    // end of the data set, as the relay's does, so both refuse it (the relay would never take it).
    const { bytes, ids } = await deflatedWithZeros('bomb-late', 200 * MiB, 0x7fe00010);
    let result: HeaderResult | undefined;
    const growth = await peakGrowth(async () => {
      result = await parseHeader(bytes);
    });
    expect(result).toEqual({ ok: false, code: 'FILE_NOT_DICOM', reason: tooLarge('16 MiB') });
    if (growth !== undefined) expect(growth).toBeLessThan(150 * MiB);
    expect(await relayVerdict(bytes, ids)).toEqual({ ok: false, code: 'HEADER_TOO_LARGE', reason: tooLarge('16 MiB') });
  });

  it('reads a deflated header held in memory as it reads one from disk', async () => {
    const study = await generateStudy(join(workDir, 'deflated-small'), { instances: 1, rows: 8, columns: 8, transferSyntax: 'deflated-le' });
    const { path, sopInstanceUid } = study.instances[0]!;
    const fromDisk = await readInstanceHeader(path, { firstReadBytes: 256 });
    expect(fromDisk).toMatchObject({ ok: true, header: { sopInstanceUid, transferSyntaxUid: DEFLATED, study: { instanceUid: study.studyInstanceUid } } });
    expect(await parseHeader(await readFile(path))).toEqual(fromDisk);
  });
});

describe('headers of hundreds of thousands of sequence items', () => {
  // Found by the malformed-input fuzzer: dicom-parser, which the desktop once read with, kept an
  // object of about 1 KB per item, so a 6 MB file holding one sequence of 400 000 empty items took
  // 380 MB to index. The reading core walks items without keeping them.

  /** A generated explicit VR little endian instance with a sequence of `items` empty undefined-length items before `beforeTag`. */
  async function withItems(name: string, items: number, beforeTag: number): Promise<{ path: string; ids: InstanceIds }> {
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
    const { sopInstanceUid, sopClassUid } = study.instances[0]!;
    return { path, ids: { studyInstanceUid: study.studyInstanceUid, sopInstanceUid, sopClassUid } };
  }

  it('reads one whose identifying attributes come after the items, in bounded memory', async () => {
    const { path, ids } = await withItems('items-early', 400_000, 0x00100000);
    let result: HeaderResult | undefined;
    const growth = await peakGrowth(async () => {
      result = await readInstanceHeader(path);
    });
    expect(result).toMatchObject({ ok: true, header: { sopInstanceUid: ids.sopInstanceUid, study: { instanceUid: ids.studyInstanceUid } } });
    if (growth !== undefined) expect(growth).toBeLessThan(150 * MiB);
  });

  it('refuses one whose items run past the read limit before its identifying attributes, as the relay does', async () => {
    const { path, ids } = await withItems('items-over-limit', 400_000, 0x00100000);
    expect(await readInstanceHeader(path, { maxHeaderBytes: MiB })).toEqual({ ok: false, code: 'FILE_NOT_DICOM', reason: tooLarge('1 MiB') });
    expect(await relayVerdict(await readFile(path), ids, MiB)).toEqual({ ok: false, code: 'HEADER_TOO_LARGE', reason: tooLarge('1 MiB') });
  });

  it('reads one whose identifying attributes come before the items, in bounded memory', async () => {
    const { path, ids } = await withItems('items-late', 400_000, 0x7fe00010);
    const growth = await peakGrowth(async () => {
      expect(await readInstanceHeader(path)).toMatchObject({ ok: true, header: { sopInstanceUid: ids.sopInstanceUid, transferSyntaxUid: '1.2.840.10008.1.2.1' } });
    });
    if (growth !== undefined) expect(growth).toBeLessThan(150 * MiB);
  });
});

describe('text in the character set the data set names', () => {
  it('decodes a UTF-8 (ISO_IR 192) patient name', async () => {
    const name = 'MÜLLER^ZOË=山田^太郎';
    const study = await generateStudy(join(workDir, 'utf8'), { instances: 1, rows: 8, columns: 8, transferSyntax: 'explicit-le', patient: { name } });
    const bytes = await readFile(study.instances[0]!.path);
    // The file does hold UTF-8 under Specific Character Set (0008,0005) ISO_IR 192 (PS3.3 §C.12.1.1.2).
    expect(bytes.includes(Buffer.from(name, 'utf8'))).toBe(true);
    expect(bytes.includes(Buffer.from('ISO_IR 192', 'latin1'))).toBe(true);
    expect(await readInstanceHeader(study.instances[0]!.path)).toMatchObject({ ok: true, header: { patient: { name } } });
    expect(await parseHeader(bytes)).toMatchObject({ ok: true, header: { patient: { name } } });
  });

  it('decodes a Latin-1 (ISO_IR 100) patient name', async () => {
    const study = await generateStudy(join(workDir, 'latin1'), { instances: 1, rows: 8, columns: 8, transferSyntax: 'explicit-le', patient: { name: 'PLAIN^ASCII' } });
    const bytes = await readFile(study.instances[0]!.path);
    const metaEnd = 144 + bytes.readUInt32LE(140);
    // Replace the name by one in ISO_IR 100 bytes, of the same even length, under ISO_IR 100.
    const at = bytes.indexOf(Buffer.from('PLAIN^ASCII', 'latin1'), metaEnd);
    const latin1 = Buffer.from(bytes);
    Buffer.from('PLÄIN^ÅSCII', 'latin1').copy(latin1, at);
    expect(latin1.includes(Buffer.from('ISO_IR 100', 'latin1'))).toBe(true);
    expect(await parseHeader(latin1)).toMatchObject({ ok: true, header: { patient: { name: 'PLÄIN^ÅSCII' } } });
  });
});

describe('one verdict with the relay', () => {
  /** The generated instance's file and what names it. */
  async function instanceOf(name: string): Promise<{ bytes: Buffer; ids: InstanceIds; path: string }> {
    const study = await generateStudy(join(workDir, name), { instances: 1, rows: 8, columns: 8, transferSyntax: 'explicit-le' });
    const { path, sopInstanceUid, sopClassUid } = study.instances[0]!;
    return { bytes: await readFile(path), ids: { studyInstanceUid: study.studyInstanceUid, sopInstanceUid, sopClassUid }, path };
  }

  it('refuses a file cut short as the relay does, with the relay\'s reason, wherever the cut is', async () => {
    const { bytes, ids } = await instanceOf('agree-cut');
    // Inside the Study Instance UID's value, and inside the pixel data (8 × 8 × 16 bits at the end).
    const studyUid = bytes.indexOf(Buffer.from([0x20, 0x00, 0x0d, 0x00, 0x55, 0x49]), 132);
    for (const cut of [studyUid + 10, bytes.length - 50]) {
      const cutBytes = bytes.subarray(0, cut);
      const path = join(workDir, 'agree-cut.dcm');
      await writeFile(path, cutBytes);
      const relay = await relayVerdict(cutBytes, ids);
      expect(relay, `cut at ${cut}`).toMatchObject({ ok: false, code: 'TRUNCATED', reason: expect.stringContaining('the file ends inside') as string });
      const { reason } = relay as Extract<ValidationResult, { ok: false }>;
      expect(await readInstanceHeader(path), `cut at ${cut}`).toMatchObject({ ok: false, code: 'FILE_TRUNCATED', reason });
      expect(await parseHeader(cutBytes), `cut at ${cut}`).toMatchObject({ ok: false, code: 'FILE_TRUNCATED', reason });
    }
  });

  it('names the study of a file cut inside its image data (the folder watcher holds that study back)', async () => {
    const { bytes, ids } = await instanceOf('cut-pixels');
    expect(await parseHeader(bytes.subarray(0, bytes.length - 50))).toMatchObject({ ok: false, code: 'FILE_TRUNCATED', studyInstanceUid: ids.studyInstanceUid });
    // Cut before its Study Instance UID, a file names no study.
    const studyUid = bytes.indexOf(Buffer.from([0x20, 0x00, 0x0d, 0x00, 0x55, 0x49]), 132);
    expect(await parseHeader(bytes.subarray(0, studyUid + 10))).not.toHaveProperty('studyInstanceUid');
  });

  it('accepts an object without Pixel Data as the relay does', async () => {
    const { bytes, ids } = await instanceOf('agree-no-pixels');
    // Pixel Data (7FE0,0010) OW is the last element: a 12-byte header and 8 × 8 × 2 bytes.
    const pixelData = bytes.length - 12 - 128;
    expect(bytes.readUInt32LE(pixelData)).toBe(0x00107fe0);
    const noPixels = bytes.subarray(0, pixelData);
    const path = join(workDir, 'no-pixels.dcm');
    await writeFile(path, noPixels);
    const relay = await relayVerdict(noPixels, ids);
    // The relay also keeps the study's accession number (HL7 reports may name the study by it).
    expect(relay).toEqual({ ok: true, transferSyntaxUid: '1.2.840.10008.1.2.1', ...ids, accessionNumber: expect.any(String) });
    const expected = { ok: true, header: { sopInstanceUid: ids.sopInstanceUid, sopClassUid: ids.sopClassUid, transferSyntaxUid: '1.2.840.10008.1.2.1', study: { instanceUid: ids.studyInstanceUid } } };
    expect(await readInstanceHeader(path)).toMatchObject(expected);
    expect(await parseHeader(noPixels)).toMatchObject(expected);
  });

  it('refuses a data set without Series Instance UID as the relay does', async () => {
    const { bytes, ids } = await instanceOf('agree-no-series');
    // Renumber (0020,000E) to the unused (0020,000F), order and length kept: the data set no longer has it.
    const series = bytes.indexOf(Buffer.from([0x20, 0x00, 0x0e, 0x00, 0x55, 0x49]), 132);
    const without = Buffer.from(bytes);
    without.writeUInt16LE(0x000f, series + 2);
    const relay = await relayVerdict(without, ids);
    expect(relay).toEqual({ ok: false, code: 'MISSING_IDENTITY', reason: 'the data set has no Series Instance UID (0020,000E), so no PACS can store it' });
    expect(await parseHeader(without)).toEqual({ ok: false, code: 'FILE_NOT_DICOM', reason: (relay as Extract<ValidationResult, { ok: false }>).reason });
  });
});
