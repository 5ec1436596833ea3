import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, inflateRawSync } from 'node:zlib';
import { generateStudy, TRANSFER_SYNTAX_NAMES, TRANSFER_SYNTAX_UIDS, type GeneratedStudy, type StudySpec, type TransferSyntaxName } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_HEADER_BYTES } from '@relaypacs/dicom';
import { validatePart10, type ValidationResult } from '../../src/dicom/part10-validator.js';
import { INSTANCE_REJECTION_CODES } from '../../src/protocol/error-codes.js';
import { bufferReader, fileReader } from './header-readers.js';
import { type Syntax } from './part10-builder.js';
import { expectationsFor, idsOf, indexOfElement, topLevelBoundaries, readInstance, seededRandom, validateBytes } from './test-support.js';

const PHI_CANARY = { name: 'CANARYNAME^PHI', id: 'CANARYID7731' };

let root: string;
let studyCount = 0;
/** One small study per transfer syntax, shared by the mutation tests. */
const small = new Map<TransferSyntaxName, { study: GeneratedStudy; bytes: Buffer }>();

async function generate(spec: StudySpec): Promise<GeneratedStudy> {
  return generateStudy(join(root, `study-${++studyCount}`), { patient: PHI_CANARY, ...spec });
}

function syntaxOf(name: TransferSyntaxName): Syntax {
  return name === 'explicit-be' ? 'explicit-be' : name === 'implicit-le' ? 'implicit-le' : 'explicit-le';
}

function expectRejected(result: ValidationResult, code: keyof typeof INSTANCE_REJECTION_CODES): void {
  expect(result.ok ? 'accepted' : result.code, result.ok ? '' : result.reason).toBe(code);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'relaypacs-part10-'));
  for (const name of TRANSFER_SYNTAX_NAMES) {
    const study = await generate({ instances: 1, rows: 8, columns: 8, transferSyntax: name, seed: 7 });
    const instance = study.instances[0];
    if (!instance) throw new Error('no instance');
    small.set(name, { study, bytes: await readInstance(instance) });
  }
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function smallOf(name: TransferSyntaxName): { study: GeneratedStudy; bytes: Buffer; expected: ReturnType<typeof expectationsFor> } {
  const entry = small.get(name);
  const instance = entry?.study.instances[0];
  if (!entry || !instance) throw new Error(`no small study for ${name}`);
  return { ...entry, bytes: Buffer.from(entry.bytes), expected: expectationsFor(idsOf(entry.study, instance)) };
}

describe('valid instances from the study generator', () => {
  it.each(TRANSFER_SYNTAX_NAMES)('accepts %s single-frame CT, MR and multi-frame instances and records the transfer syntax', async (name) => {
    const studies = [
      await generate({ instances: 3, series: 2, rows: 32, columns: 32, transferSyntax: name, modality: 'CT' }),
      await generate({ instances: 2, rows: 16, columns: 24, transferSyntax: name, modality: 'MR' }),
      await generate({ instances: 2, rows: 16, columns: 16, frames: 5, bitsAllocated: 8, transferSyntax: name, modality: 'OT' }),
      await generate({ instances: 1, rows: 16, columns: 16, frames: 3, bitsAllocated: 16, transferSyntax: name }),
    ];
    for (const study of studies) {
      for (const instance of study.instances) {
        const { result } = await validateBytes(await readInstance(instance), expectationsFor(idsOf(study, instance)));
        expect(result).toEqual({
          ok: true,
          transferSyntaxUid: TRANSFER_SYNTAX_UIDS[name],
          sopClassUid: instance.sopClassUid,
          sopInstanceUid: instance.sopInstanceUid,
          studyInstanceUid: study.studyInstanceUid,
          // What an HL7 report may name the study by (reports/hl7), read as the file has it.
          accessionNumber: study.accessionNumber,
        });
      }
    }
  });

  it.each(TRANSFER_SYNTAX_NAMES)('validates a %s instance with ~50 MB of pixel data by reading a small prefix', async (name) => {
    // 25 frames of 1024×1024×16 bits: 50 MiB of pixels, only the first KiB of which is header.
    const study = await generate({ instances: 1, rows: 1024, columns: 1024, frames: name === 'deflated-le' ? 12 : 25, transferSyntax: name, seed: 3 });
    const instance = study.instances[0];
    if (!instance) throw new Error('no instance');
    if (name !== 'deflated-le') expect(instance.size).toBeGreaterThan(50_000_000);
    const reader = await fileReader(instance.path);
    try {
      const result = await validatePart10(reader.readHeader, reader.size, expectationsFor(idsOf(study, instance)));
      expect(result.ok).toBe(true);
      expect(reader.log.bytes).toBeLessThanOrEqual(256 * 1024);
      expect(reader.log.largest).toBeLessThanOrEqual(64 * 1024);
    } finally {
      await reader.close();
    }
  });
});

describe('the preamble and the file meta header', () => {
  it('rejects an empty file and every file shorter than preamble + "DICM" as not Part 10', async () => {
    const { bytes, expected } = smallOf('explicit-le');
    const { result } = await validateBytes(Buffer.alloc(0), expected);
    expect(result).toEqual({ ok: false, code: 'NOT_PART10', reason: 'the file is empty' });
    for (let size = 1; size < 132; size++) expectRejected((await validateBytes(bytes.subarray(0, size), expected)).result, 'NOT_PART10');
  });

  it('rejects a file without its preamble, with the wrong magic, or without any Part 10 header', async () => {
    const { bytes, expected } = smallOf('explicit-le');
    expectRejected((await validateBytes(bytes.subarray(128), expected)).result, 'NOT_PART10');
    for (const magic of ['DICN', 'dicm', 'MICD', '\0\0\0\0']) {
      const copy = Buffer.from(bytes);
      copy.write(magic, 128, 'latin1');
      expectRejected((await validateBytes(copy, expected)).result, 'NOT_PART10');
    }
    const metaEnd = 144 + bytes.readUInt32LE(140);
    expectRejected((await validateBytes(bytes.subarray(metaEnd), expected)).result, 'NOT_PART10');
  });

  it('rejects random garbage, of any size, without reading past what it needs', async () => {
    const { expected } = smallOf('explicit-le');
    const random = seededRandom(11);
    for (const size of [1, 100, 131, 132, 133, 200, 4096, 1_000_000]) {
      const garbage = Buffer.from(Array.from({ length: size }, () => random.int(0, 255)));
      const { result, log } = await validateBytes(garbage, expected);
      expectRejected(result, 'NOT_PART10');
      expect(log.bytes).toBeLessThanOrEqual(64 * 1024);
    }
  });

  it('rejects garbage after "DICM" as a bad meta header', async () => {
    const { bytes, expected } = smallOf('explicit-le');
    const random = seededRandom(12);
    for (let i = 0; i < 50; i++) {
      const copy = Buffer.from(bytes);
      for (let at = 132; at < copy.length; at++) copy[at] = random.int(0, 255);
      expectRejected((await validateBytes(copy, expected)).result, 'BAD_META_HEADER');
    }
  });

  it('rejects a meta group length (0002,0000) that does not match the meta elements', async () => {
    for (const name of TRANSFER_SYNTAX_NAMES) {
      const { bytes, expected } = smallOf(name);
      const real = bytes.readUInt32LE(140);
      for (const groupLength of [0, 2, real - 2, real + 2, real + 100, 0x7fffffff, 0xfffffff0, 0xffffffff]) {
        const copy = Buffer.from(bytes);
        copy.writeUInt32LE(groupLength >>> 0, 140);
        const { result, log } = await validateBytes(copy, expected);
        expectRejected(result, 'BAD_META_HEADER');
        expect(log.largest).toBeLessThanOrEqual(1024 * 1024);
      }
    }
  });

  it('rejects a meta group length that stops exactly one element short', async () => {
    for (const name of ['explicit-le', 'implicit-le'] as const) {
      const { bytes, expected } = smallOf(name);
      // (0002,0013) Implementation Version Name is the generator's last meta element.
      const last = indexOfElement(bytes, 0x00020013, 'explicit-le', 'SH');
      const copy = Buffer.from(bytes);
      copy.writeUInt32LE(last - 144, 140);
      const { result } = await validateBytes(copy, expected);
      expectRejected(result, 'BAD_META_HEADER');
      expect(result.ok ? '' : result.reason).toContain('(0002,0013)');
    }
  });

  it('rejects a meta header whose first element is not the group length, or whose VRs are broken', async () => {
    const { bytes, expected } = smallOf('explicit-le');
    const notFirst = Buffer.from(bytes);
    notFirst.writeUInt16LE(0x0001, 134); // (0002,0001) where (0002,0000) belongs
    expectRejected((await validateBytes(notFirst, expected)).result, 'BAD_META_HEADER');
    const badVr = Buffer.from(bytes);
    badVr.write('ZZ', indexOfElement(bytes, 0x00020010, 'explicit-le', 'UI') + 4, 'latin1');
    expectRejected((await validateBytes(badVr, expected)).result, 'BAD_META_HEADER');
  });
});

describe('truncation, absurd lengths and mismatches', () => {
  it.each(['explicit-le', 'implicit-le', 'explicit-be'] as const)('rejects a %s instance cut inside a value or header as truncated, saying where', async (name) => {
    const { bytes, expected } = smallOf(name);
    // A cut between two top-level elements leaves a whole, shorter data set: not truncated (a PACS
    // stores it); it is refused only when what it lacks is needed to store it by UID.
    const boundaries = topLevelBoundaries(bytes, name);
    for (let cut = 0; cut < bytes.length; cut++) {
      const { result, log } = await validateBytes(bytes.subarray(0, cut), expected);
      if (cut < 132) expectRejected(result, 'NOT_PART10');
      else if (boundaries.has(cut)) expect(result.ok ? 'ok' : result.code, `cut at ${cut}`).not.toBe('TRUNCATED');
      else {
        expectRejected(result, 'TRUNCATED');
        if (!result.ok) expect(result.reason, `cut at ${cut}`).toMatch(/byte \d+/);
      }
      expect(log.bytes).toBeLessThanOrEqual(64 * 1024);
    }
    expect((await validateBytes(bytes, expected)).result.ok).toBe(true);
  });

  it('rejects a deflated instance cut anywhere before the end of its header as truncated', async () => {
    const { bytes, expected } = smallOf('deflated-le');
    const dataSetStart = 144 + bytes.readUInt32LE(140);
    const inflated = inflateRawSync(bytes.subarray(dataSetStart));
    // The header ends with the Pixel Data element header: 12 bytes at this offset of the inflated data set.
    const headerEnd = indexOfElement(inflated, 0x7fe00010, 'explicit-le', 'OW', 0) + 12;
    let rejectedCuts = 0;
    for (let cut = 0; cut < bytes.length; cut++) {
      const { result } = await validateBytes(bytes.subarray(0, cut), expected);
      const prefix = cut <= dataSetStart ? Buffer.alloc(0) : inflateRawSync(bytes.subarray(dataSetStart, cut), { finishFlush: constants.Z_SYNC_FLUSH });
      if (prefix.length >= headerEnd) {
        // The header is whole: deflated pixel data is not inflated, so a cut inside it is for the checksum to catch.
        if (!result.ok) expectRejected(result, 'TRUNCATED');
      } else {
        // A cut deflate stream is a cut file, even where what it inflates to ends between two elements.
        expectRejected(result, cut < 132 ? 'NOT_PART10' : 'TRUNCATED');
        rejectedCuts++;
      }
    }
    expect(rejectedCuts).toBeGreaterThan(dataSetStart);
  });

  it('rejects an absurd element length (FFFFFFF0H) without allocating or reading it', async () => {
    const cases: Array<[TransferSyntaxName, number, string | undefined, number, keyof typeof INSTANCE_REJECTION_CODES]> = [
      // [syntax, tag, vr, offset of the 32-bit length within the element, expected code]
      ['explicit-le', 0x7fe00010, 'OW', 8, 'TRUNCATED'],
      ['explicit-be', 0x7fe00010, 'OW', 8, 'TRUNCATED'],
      ['implicit-le', 0x00080005, undefined, 4, 'TRUNCATED'],
      ['implicit-le', 0x00080018, undefined, 4, 'TRUNCATED'],
      ['implicit-le', 0x7fe00010, undefined, 4, 'TRUNCATED'],
      ['explicit-le', 0x00020001, 'OB', 8, 'BAD_META_HEADER'],
    ];
    for (const [name, tag, vr, lengthAt, code] of cases) {
      const { bytes, expected } = smallOf(name);
      const copy = Buffer.from(bytes);
      const at = indexOfElement(copy, tag, tag >>> 16 === 2 ? 'explicit-le' : syntaxOf(name), vr) + lengthAt;
      if (name === 'explicit-be' && tag >>> 16 !== 2) copy.writeUInt32BE(0xfffffff0, at);
      else copy.writeUInt32LE(0xfffffff0, at);
      const { result, log } = await validateBytes(copy, expected);
      expectRejected(result, code);
      expect(log.bytes).toBeLessThanOrEqual(64 * 1024);
    }
  });

  it('rejects the wrong study, SOP instance or SOP class, and a SOP class not on the allow-list, without echoing identifying UIDs', async () => {
    for (const name of TRANSFER_SYNTAX_NAMES) {
      const { bytes, expected } = smallOf(name);
      const other = '1.2.826.0.1.3680043.10.1078.99.1';
      const cases: Array<[typeof expected, keyof typeof INSTANCE_REJECTION_CODES]> = [
        [{ ...expected, studyInstanceUid: other }, 'STUDY_UID_MISMATCH'],
        [{ ...expected, sopInstanceUid: other }, 'SOP_INSTANCE_UID_MISMATCH'],
        [{ ...expected, sopClassUid: '1.2.840.10008.5.1.4.1.1.4' }, 'SOP_CLASS_MISMATCH'],
        [{ ...expected, allowedSopClasses: new Set(['1.2.840.10008.5.1.4.1.1.4']) }, 'SOP_CLASS_NOT_ALLOWED'],
      ];
      for (const [expectations, code] of cases) {
        const { result } = await validateBytes(bytes, expectations);
        expectRejected(result, code);
        const reason = result.ok ? '' : result.reason;
        expect(reason).not.toContain(expected.studyInstanceUid);
        expect(reason).not.toContain(expected.sopInstanceUid);
        expect(reason).not.toContain(other);
        if (code === 'SOP_CLASS_NOT_ALLOWED') expect(reason).toContain(expected.sopClassUid);
      }
    }
  });

  it('rejects a meta header that names another SOP instance or class than the data set', async () => {
    const { bytes, expected } = smallOf('explicit-le');
    for (const tag of [0x00020003, 0x00020002]) {
      const copy = Buffer.from(bytes);
      const at = indexOfElement(copy, tag, 'explicit-le', 'UI') + 8;
      copy[at + 2] = copy[at + 2] === 0x31 ? 0x32 : 0x31; // one digit of the UID
      expectRejected((await validateBytes(copy, expected)).result, 'BAD_META_HEADER');
    }
  });

  it('accepts expectations given with UID padding', async () => {
    const { bytes, expected } = smallOf('explicit-le');
    const padded = { ...expected, studyInstanceUid: `${expected.studyInstanceUid}\0`, sopInstanceUid: `${expected.sopInstanceUid} ` };
    expect((await validateBytes(bytes, padded)).result.ok).toBe(true);
  });

  it('rejects a header larger than the cap, reading no more than the cap', async () => {
    const { bytes, expected } = smallOf('explicit-le');
    const { result, log } = await validateBytes(bytes, expected, { maxHeaderBytes: 256 });
    expectRejected(result, 'HEADER_TOO_LARGE');
    expect(log.bytes).toBeLessThanOrEqual(256);
  });
});

describe('storage failures', () => {
  it.each(TRANSFER_SYNTAX_NAMES)('passes on the error of a failing %s read instead of judging the instance', async (name) => {
    const { bytes, expected } = smallOf(name);
    const failure = new Error('EIO: disk gone');
    const dataSetStart = 144 + bytes.readUInt32LE(140);
    const failWhen: Array<(start: number, end: number) => boolean> = [
      () => true, // the very first read
      (_start, end) => end > dataSetStart + 16, // a read of the data set, after the meta header was read
    ];
    // Deflated: the compressed stream is read by its own reader, from the data set's first byte on.
    if (name === 'deflated-le') failWhen.push((start) => start >= dataSetStart);
    for (const shouldFail of failWhen) {
      const reader = bufferReader(bytes);
      let failed = 0;
      const readHeader = async (start: number, end: number) => {
        if (shouldFail(start, end)) {
          failed++;
          throw failure;
        }
        return reader.readHeader(start, end);
      };
      await expect(validatePart10(readHeader, bytes.length, expected, { firstReadBytes: 64 })).rejects.toBe(failure);
      expect(failed).toBe(1);
    }
  });

  it('treats a reader that returns fewer bytes than asked as an I/O fault', async () => {
    const { bytes, expected } = smallOf('explicit-le');
    await expect(validatePart10(async (start, end) => bytes.subarray(start, end - 1), bytes.length, expected)).rejects.toThrow(/returned/);
    await expect(validatePart10(async () => bytes, -1, expected)).rejects.toThrow(RangeError);
  });
});

describe('mutation fuzz', () => {
  it('never throws, always answers with a known code, stays within its read budget and never echoes patient data', async () => {
    const random = seededRandom(20_240_601);
    const codes = new Set(Object.keys(INSTANCE_REJECTION_CODES));
    const counts = new Map<string, number>();
    const baseline = process.memoryUsage().arrayBuffers;
    let peakArrayBuffers = baseline;
    const iterations = 2000;
    for (let i = 0; i < iterations; i++) {
      const name = TRANSFER_SYNTAX_NAMES[i % TRANSFER_SYNTAX_NAMES.length] as TransferSyntaxName;
      const { bytes, expected } = smallOf(name);
      const mutated = mutate(bytes, random);
      const { result, log } = await validateBytes(mutated, expected);
      const label = result.ok ? 'ok' : result.code;
      counts.set(label, (counts.get(label) ?? 0) + 1);
      if (!result.ok) {
        expect(codes.has(result.code)).toBe(true);
        expect(result.reason.length).toBeGreaterThan(0);
        expect(result.reason, `iteration ${i}`).not.toContain('internal parser error');
        expect(result.reason).not.toContain('CANARY');
      }
      expect(log.bytes).toBeLessThanOrEqual(DEFAULT_MAX_HEADER_BYTES);
      expect(log.largest).toBeLessThanOrEqual(1024 * 1024);
      peakArrayBuffers = Math.max(peakArrayBuffers, process.memoryUsage().arrayBuffers);
    }
    expect(peakArrayBuffers - baseline).toBeLessThan(64 * 1024 * 1024);
    // The mutations reach deep enough to produce more than one kind of verdict.
    expect(counts.size).toBeGreaterThan(4);
  });
});

/** One to three random corruptions: byte flips, cuts, 32-bit length stomps, insertions or deletions. */
function mutate(original: Buffer, random: ReturnType<typeof seededRandom>): Buffer {
  let bytes = Buffer.from(original);
  const rounds = random.int(1, 3);
  for (let r = 0; r < rounds && bytes.length > 0; r++) {
    const at = random.int(0, bytes.length - 1);
    switch (random.int(0, 5)) {
      case 0:
        for (let n = random.int(1, 8); n > 0; n--) {
          const p = random.int(0, bytes.length - 1);
          bytes[p] = (bytes[p] ?? 0) ^ (1 << random.int(0, 7));
        }
        break;
      case 1:
        bytes = bytes.subarray(0, at);
        break;
      case 2:
        if (at + 4 <= bytes.length) bytes.writeUInt32LE([0xffffffff, 0xfffffff0, 0x7fffffff, random.int(0, 0xffffffff), 0][random.int(0, 4)] ?? 0, at);
        break;
      case 3:
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(Array.from({ length: random.int(1, 16) }, () => random.int(0, 255))), bytes.subarray(at)]);
        break;
      case 4:
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + random.int(1, 16)))]);
        break;
      default:
        bytes[at] = random.int(0, 255);
    }
  }
  return bytes;
}
