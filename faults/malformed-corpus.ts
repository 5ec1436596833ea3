// The malformed-input fuzzer's starting points and its plan. Seeds are valid instances in every
// layout the import and the relay meet (implicit and explicit VR little endian, big endian,
// deflated, encapsulated, multi-frame, one over 1 MB so the streamed paths run, sequences of both
// length forms), ZIPs of them (Store, Deflate, ZIP64, and yazl's data-descriptor form) and a CD
// medium with a DICOMDIR written by DCMTK. Every mutant is rebuilt from (seed, iteration) alone.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { createDeflateRaw } from 'node:zlib';
import yazl from 'yazl';
import { generateStudy, type TransferSyntaxName } from '@relaypacs/testkit';
import { element, encapsulatedPixelData, item, part10, sequence, text, uid, us, type Syntax } from '../server/test/dicom/part10-builder.js';
import { DICOM_MUTATORS, DICOMDIR_MUTATORS, describeSeed, type DeflateBomb, type DicomMutatorContext, type DicomSeed, type InstanceIds } from './dicom-mutators.js';
import { Xorshift32 } from './fuzz-random.js';
import { buildZip, zipLayout, ZIP_MUTATORS, type ZipSeed } from './zip-mutators.js';

const run = promisify(execFile);

export interface Corpus extends DicomMutatorContext {
  seeds: DicomSeed[];
  zips: ZipSeed[];
  dicomdir: DicomSeed;
  /** A CD medium (DICOMDIR plus the images it lists): mutants of its DICOMDIR are written over the original. */
  mediaRoot: string;
  bombs: DeflateBomb[];
}

export type Target = 'dicom' | 'zip' | 'dicomdir';

export interface Mutant {
  iteration: number;
  target: Target;
  mutator: string;
  seed: string;
  bytes: Buffer;
  detail: string;
  /** For a DICOM mutant: what the relay is told in the manifest (the seed's identity). */
  ids?: InstanceIds;
}

const TS = {
  implicitLe: '1.2.840.10008.1.2',
  explicitLe: '1.2.840.10008.1.2.1',
  explicitBe: '1.2.840.10008.1.2.2',
  rle: '1.2.840.10008.1.2.5',
  deflated: '1.2.840.10008.1.2.1.99',
} as const;
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

export async function buildCorpus(workDir: string, patient: { name: string; id: string }, options: { bombSizes: readonly number[] }): Promise<Corpus> {
  const seeds: DicomSeed[] = [];
  const generated: { name: string; syntax: TransferSyntaxName; rows: number; frames?: number; bitsAllocated?: 8 | 16 }[] = [
    { name: 'implicit-le', syntax: 'implicit-le', rows: 32 },
    { name: 'explicit-le', syntax: 'explicit-le', rows: 32 },
    { name: 'explicit-be', syntax: 'explicit-be', rows: 32 },
    { name: 'deflated-le', syntax: 'deflated-le', rows: 32 },
    { name: 'multi-frame', syntax: 'explicit-le', rows: 24, frames: 4, bitsAllocated: 8 },
    // Over 1 MB: the importer reads its header in growing prefixes and streams the hash.
    { name: 'large-multi-frame', syntax: 'explicit-le', rows: 512, frames: 3 },
  ];
  for (const [n, spec] of generated.entries()) {
    const study = await generateStudy(join(workDir, 'seeds', spec.name), {
      instances: 1, rows: spec.rows, columns: spec.rows, transferSyntax: spec.syntax, seed: 9000 + n, patient,
      ...(spec.frames ? { frames: spec.frames } : {}), ...(spec.bitsAllocated ? { bitsAllocated: spec.bitsAllocated } : {}),
    });
    const instance = study.instances[0]!;
    seeds.push(describeSeed(spec.name, await readFile(instance.path), { studyInstanceUid: study.studyInstanceUid, sopInstanceUid: instance.sopInstanceUid, sopClassUid: instance.sopClassUid }));
  }
  // Hand-built: sequences of both length forms, nested, and encapsulated pixel data (the generator makes neither).
  const built: { name: string; syntax: Syntax; ts: string; encapsulated: boolean }[] = [
    { name: 'encapsulated-rle-sequences', syntax: 'explicit-le', ts: TS.rle, encapsulated: true },
    { name: 'implicit-le-sequences', syntax: 'implicit-le', ts: TS.implicitLe, encapsulated: false },
    { name: 'explicit-be-sequences', syntax: 'explicit-be', ts: TS.explicitBe, encapsulated: false },
  ];
  for (const [n, spec] of built.entries()) {
    const ids: InstanceIds = { studyInstanceUid: `2.25.77001${n}`, sopInstanceUid: `2.25.77002${n}`, sopClassUid: SECONDARY_CAPTURE };
    seeds.push(describeSeed(spec.name, builtInstance(spec.syntax, spec.ts, spec.encapsulated, ids, patient), ids));
  }
  const media = await buildMedia(join(workDir, 'media'), patient);
  const dicomdir = describeSeed('dicomdir', await readFile(join(media, 'DICOMDIR')), undefined);

  const small = (name: string) => seeds.find((s) => s.name === name)!;
  const entries = (names: string[], deflate: boolean) => names.map((name, i) => ({ name: `DICOM/S1/IM${i + 1}.dcm`, content: small(name).file, deflate }));
  const zipBytes: [string, Buffer][] = [
    ['zip-stored', buildZip([{ name: 'DICOM/', content: Buffer.alloc(0), deflate: false }, ...entries(['explicit-le', 'implicit-le', 'encapsulated-rle-sequences'], false)])],
    ['zip-deflated', buildZip(entries(['explicit-be', 'deflated-le', 'multi-frame'], true))],
    ['zip64', buildZip(entries(['explicit-le', 'implicit-le-sequences'], true), { zip64: true })],
    ['zip-yazl', await yazlZip([['Séries/IM1.dcm', small('explicit-be-sequences').file], ['IM2', small('implicit-le').file]])],
  ];
  const zips = zipBytes.map(([name, bytes]) => ({ name, bytes, layout: zipLayout(bytes) }));

  const bombs: DeflateBomb[] = [];
  for (const size of options.bombSizes) bombs.push({ inflatedBytes: size, file: await deflateBomb(small('explicit-le'), size) });
  return { seeds, zips, dicomdir, mediaRoot: media, bombs };
}

function builtInstance(s: Syntax, transferSyntaxUid: string, encapsulated: boolean, ids: InstanceIds, patient: { name: string; id: string }): Buffer {
  const reference = (n: number) => [uid(0x00081150, SECONDARY_CAPTURE, s), uid(0x00081155, `${ids.sopInstanceUid}.${n}`, s)];
  const content = sequence(0x0040a730, [item(text(0x0040a160, 'UT', 'FUZZ SEED TEXT', s), s, true)], s, true);
  const image = [
    us(0x00280002, 1, s), text(0x00280004, 'CS', 'MONOCHROME2', s),
    ...(encapsulated ? [text(0x00280008, 'IS', '2', s)] : []),
    us(0x00280010, 8, s), us(0x00280011, 8, s), us(0x00280100, 8, s), us(0x00280101, 8, s), us(0x00280102, 7, s), us(0x00280103, 0, s),
    encapsulated
      ? encapsulatedPixelData([Buffer.alloc(64, 0x11), Buffer.alloc(64, 0x22)], s)
      : element(0x7fe00010, 'OB', Buffer.alloc(64, 0x80), s),
  ];
  const dataSet = Buffer.concat([
    text(0x00080005, 'CS', 'ISO_IR 100', s),
    uid(0x00080016, ids.sopClassUid, s),
    uid(0x00080018, ids.sopInstanceUid, s),
    text(0x00080020, 'DA', '20250101', s),
    text(0x00080060, 'CS', 'OT', s),
    // Referenced Series Sequence, defined lengths throughout.
    sequence(0x00081115, [item(uid(0x0020000e, `${ids.studyInstanceUid}.9`, s), s)], s),
    // Referenced Image Sequence, undefined lengths, one item holding a nested Content Sequence.
    sequence(0x00081140, [item(Buffer.concat(reference(1)), s, true), item(Buffer.concat([...reference(2), content]), s, true)], s, true),
    text(0x00100010, 'PN', patient.name, s),
    text(0x00100020, 'LO', patient.id, s),
    uid(0x0020000d, ids.studyInstanceUid, s),
    uid(0x0020000e, `${ids.studyInstanceUid}.1`, s),
    text(0x00200013, 'IS', '1', s),
    ...image,
  ]);
  return part10(ids, transferSyntaxUid, dataSet);
}

/** A generated study laid out as a CD (DICOM/ST000001/SE000001/IM00000N) with a DICOMDIR by dcmmkdir. */
async function buildMedia(root: string, patient: { name: string; id: string }): Promise<string> {
  const staging = `${root}.staging`;
  const study = await generateStudy(staging, { instances: 3, rows: 16, columns: 16, modality: 'CT', extension: '', seed: 9100, patient });
  const folder = join(root, 'DICOM', 'ST000001', 'SE000001');
  await mkdir(folder, { recursive: true });
  for (const instance of study.instances) await rename(instance.path, join(folder, `IM${String(instance.instanceNumber).padStart(6, '0')}`));
  await rm(staging, { recursive: true, force: true });
  await run('dcmmkdir', ['-q', '-Pgp', '+r', '+id', root, '+D', join(root, 'DICOMDIR'), 'DICOM']);
  return root;
}

async function yazlZip(entries: [string, Buffer][]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of entries) zip.addBuffer(content, name, { compress: true });
  zip.end();
  const parts: Buffer[] = [];
  const sink = zip.outputStream.pipe(new PassThrough());
  for await (const part of sink) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/**
 * A deflated instance whose data set holds a private OB element of `zeros` zero bytes before its
 * Pixel Data: a few hundred kilobytes on disk that inflate to hundreds of megabytes.
 */
async function deflateBomb(seed: DicomSeed, zeros: number): Promise<Buffer> {
  const ids = seed.ids!;
  const meta = part10({ ...ids }, TS.deflated, Buffer.alloc(0));
  const top = seed.sites.filter((s) => !s.meta && s.depth === 0);
  const at = top.find((s) => s.tag > 0x00091001)?.offset ?? seed.plain.length;
  const head = Buffer.alloc(12);
  head.writeUInt16LE(0x0009, 0);
  head.writeUInt16LE(0x1001, 2);
  head.write('OB', 4, 'latin1');
  head.writeUInt32LE(zeros, 8);
  const deflate = createDeflateRaw({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (part: Buffer) => parts.push(part));
  const ended = new Promise((resolve, reject) => deflate.once('end', resolve).once('error', reject));
  const write = async (chunk: Buffer) => {
    if (!deflate.write(chunk)) await new Promise((resolve) => deflate.once('drain', resolve));
  };
  await write(seed.plain.subarray(seed.metaEnd, at));
  await write(head);
  const chunk = Buffer.alloc(1024 * 1024);
  for (let left = zeros; left > 0; left -= chunk.length) await write(chunk.subarray(0, Math.min(left, chunk.length)));
  await write(seed.plain.subarray(at));
  deflate.end();
  await ended;
  return Buffer.concat([meta, ...parts]);
}

// ---------------------------------------------------------------------------------------------
// The plan: which mutator runs at which iteration

const DICOM_NAMES = Object.keys(DICOM_MUTATORS);
const ZIP_NAMES = [...Object.keys(ZIP_MUTATORS), 'zip-of-mutants'];
/**
 * Round robin over this list, so every mutator runs in the short form too. DICOM mutators twice
 * (the bombs once: each costs a large inflate), ZIP mutators once, the DICOMDIR twice.
 */
export const SCHEDULE: readonly { target: Target; mutator: string }[] = [
  ...DICOM_NAMES.flatMap((mutator) => (mutator === 'deflate-bomb' ? [mutator] : [mutator, mutator])).map((mutator) => ({ target: 'dicom' as const, mutator })),
  ...ZIP_NAMES.map((mutator) => ({ target: 'zip' as const, mutator })),
  { target: 'dicomdir', mutator: 'dicomdir' },
  { target: 'dicomdir', mutator: 'dicomdir' },
];

/** Mutant number `iteration` of the run seeded with `seed`: the same bytes every time. */
export function makeMutant(corpus: Corpus, seed: number, iteration: number): Mutant {
  const random = Xorshift32.forIteration(seed, iteration);
  const slot = SCHEDULE[iteration % SCHEDULE.length]!;
  if (slot.target === 'dicom') {
    const base = pickSeed(corpus, random);
    const mutation = DICOM_MUTATORS[slot.mutator]!(base, random, corpus);
    const bombSeed = slot.mutator === 'deflate-bomb' ? corpus.seeds.find((s) => s.name === 'explicit-le')! : base;
    return { iteration, target: 'dicom', mutator: slot.mutator, seed: bombSeed.name, bytes: mutation.bytes, detail: mutation.detail, ids: bombSeed.ids! };
  }
  if (slot.target === 'dicomdir') {
    const mutation = random.pick(DICOMDIR_MUTATORS)(corpus.dicomdir, random, corpus);
    return { iteration, target: 'dicomdir', mutator: 'dicomdir', seed: 'dicomdir', bytes: mutation.bytes, detail: mutation.detail };
  }
  if (slot.mutator === 'zip-of-mutants') {
    const count = random.int(1, 3);
    const inner = Array.from({ length: count }, () => {
      const base = pickSeed(corpus, random, false);
      const name = random.pick(DICOM_NAMES.filter((n) => n !== 'deflate-bomb' && n !== 'sequence-bomb'));
      return { base, name, mutation: DICOM_MUTATORS[name]!(base, random, corpus) };
    });
    const deflate = random.chance(0.5);
    const zip64 = random.chance(0.2);
    const bytes = buildZip(inner.map((m, i) => ({ name: `M${i + 1}.dcm`, content: m.mutation.bytes, deflate })), { zip64 });
    return {
      iteration, target: 'zip', mutator: slot.mutator, seed: inner.map((m) => m.base.name).join('+'), bytes,
      detail: `${deflate ? 'deflated' : 'stored'}${zip64 ? ' ZIP64' : ''} archive of ${inner.map((m) => `${m.name} (${m.mutation.detail})`).join('; ')}`,
    };
  }
  // ZIP64 fields are best damaged where they exist: the ZIP64 seed half of the time.
  const zip = slot.mutator === 'zip64-fields' && random.chance(0.5) ? corpus.zips.find((z) => z.layout.end64 !== undefined)! : random.pick(corpus.zips);
  const mutation = ZIP_MUTATORS[slot.mutator]!(zip, random);
  return { iteration, target: 'zip', mutator: slot.mutator, seed: zip.name, bytes: mutation.bytes, detail: mutation.detail };
}

/** Small seeds three times as often as the 1.5 MB one, which costs more to write and hash. */
function pickSeed(corpus: Corpus, random: Xorshift32, allowLarge = true): DicomSeed {
  const pool = corpus.seeds.flatMap((s) => (s.name === 'large-multi-frame' ? (allowLarge ? [s] : []) : [s, s, s]));
  return random.pick(pool);
}
