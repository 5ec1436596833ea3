import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomUid } from './dicom-uid.js';
import type { OrthancServer } from './orthanc-server.js';
import { SeededRandom } from './seeded-random.js';
import { generateStudy, type GeneratedInstance, type GeneratedStudy } from './study-generator.js';
import { codeSequence, emptySequence, srDocumentHeader } from './dicom-dump.js';
import { TRANSFER_SYNTAX_UIDS } from './transfer-syntax.js';
import { LONG_LENGTH_VRS } from '@relaypacs/dicom';

/**
 * A folder of DICOM files that no one here wrote: DCMTK (dcmconv, dump2dcm, dcmodify, dcmpsmk,
 * pdf2dcm, dcmcjpeg, dcmcrle, dcmcjpls) and GDCM (gdcmconv, gdcmanon) rewrite a few files of the
 * study generator, or write new objects, into the shapes issue 14 is about. Each file comes with a
 * ForeignCase saying what it is and what Orthanc does with it.
 *
 * Orthanc's verdicts, measured with Debian 12's Orthanc 1.10.1 (REST `POST /instances` of each file,
 * in corpus order, into one empty Orthanc with OverwriteInstances=false; test/foreign-dicom.test.ts
 * measures them again on every run):
 *
 * | case | kind | Orthanc |
 * | --- | --- | --- |
 * | `part10-control` | part10 | stored (byte-identical) |
 * | `headerless-implicit-le`, `headerless-explicit-le` (dcmconv -F) | headerless | stored |
 * | `headerless-stripped-explicit-le` | headerless | stored |
 * | `no-pixel-basic-text-sr`, `no-pixel-key-object-selection` (dump2dcm) | no-pixel-data | stored |
 * | `no-pixel-encapsulated-pdf` (pdf2dcm), `no-pixel-presentation-state` (dcmpsmk) | no-pixel-data | stored |
 * | `compressed-jpeg-lossless-dcmtk`, `-rle-dcmtk`, `-jpeg-ls-dcmtk`, `compressed-jpeg2000-gdcm` | compressed | stored (byte-identical) |
 * | `truncated-pixel-data`, `truncated-header` | truncated | refused: HTTP 400 "Bad file format", "Cannot parse an invalid DICOM file" |
 * | `no-sop-instance-uid` | no-sop-instance-uid | refused: HTTP 404 "Inexistent tag" (the meta's (0002,0003) is not used) |
 * | `no-series-instance-uid` | no-series-instance-uid | refused: HTTP 404 "Inexistent tag" |
 * | `duplicate-original` | part10 | stored |
 * | `duplicate-gdcmanon-copy` | duplicate-uid | already-stored: HTTP 200, Status AlreadyStored, the original kept |
 * | `acr-nema-no-uids` | acr-nema | refused: HTTP 404 "Inexistent tag" |
 *
 * Data sets without the Part 10 header: Orthanc 1.10.1 accepts them (DCMTK, which it reads with,
 * detects implicit or explicit VR little endian from the bytes) and stores them exactly as received:
 * `GET /instances/{id}/file` then returns the bare data set, with no preamble and no meta added. Every
 * file it stores, Part 10 or not, it keeps byte for byte (StorageCompression off).
 */

/** What shape a case has; several cases can share a kind. */
export type ForeignCaseKind =
  /** An ordinary Part 10 file of the study generator, the control. */
  | 'part10'
  /** A data set with no preamble, no "DICM" and no group 0002 (PS3.10 §7.1 absent). */
  | 'headerless'
  /** A complete object with no Pixel Data (7FE0,0010): SR, KOS, Encapsulated PDF, Presentation State. */
  | 'no-pixel-data'
  /** Encapsulated Pixel Data in a compressed transfer syntax, written by DCMTK or GDCM. */
  | 'compressed'
  /** A Part 10 file cut in the middle of a value. */
  | 'truncated'
  /** A Part 10 file whose data set has no SOP Instance UID (0008,0018). */
  | 'no-sop-instance-uid'
  /** A Part 10 file whose data set has no Series Instance UID (0020,000E). */
  | 'no-series-instance-uid'
  /** The second of two different files that carry the same SOP Instance UID. */
  | 'duplicate-uid'
  /** ACR-NEMA 2.0 style: a bare implicit VR data set with group lengths, Recognition Code, no SOP Class or Instance UID. */
  | 'acr-nema';

/**
 * What Orthanc answers when the corpus is posted to it file by file, in order: 'stored' (Status
 * Success), 'already-stored' (Status AlreadyStored: an instance with that SOP Instance UID came
 * before), 'refused' (an HTTP error).
 */
export type OrthancVerdict = 'stored' | 'already-stored' | 'refused';

export interface ForeignCase {
  /** Unique within the corpus; also the start of the file name. */
  name: string;
  /** Absolute path of the file in the corpus folder. */
  file: string;
  kind: ForeignCaseKind;
  /** The tool and options that wrote the file, e.g. 'dcmconv -F +ti'. */
  writtenBy: string;
  /** Starts with the 128-byte preamble, "DICM" and the group 0002 File Meta Information. */
  part10: boolean;
  /** Transfer syntax of the data set (for header-less files: what the bytes are encoded in). */
  transferSyntaxUid: string;
  sopClassUid?: string;
  /** SOP Instance UID (0008,0018) in the data set; absent when the file has none. */
  sopInstanceUid?: string;
  /** Whether the data set holds a Pixel Data (7FE0,0010) element (possibly cut short). */
  pixelData: boolean;
  /** Orthanc's verdict, as measured (see the table above) and checked by the test. */
  expected: OrthancVerdict;
  /** Header-less cases: the data set bytes, which are the whole file. */
  dataSet?: Buffer;
  /** Truncated cases: where the cut is. */
  truncation?: Truncation;
  /** Duplicate-uid cases: the case with the same SOP Instance UID, which comes earlier in the list. */
  sameUidAs?: string;
  /** What the case stands for, in a sentence. */
  note: string;
}

export interface Truncation {
  /** Size of the file before it was cut. */
  originalSize: number;
  /** The tag whose value is cut, e.g. '7FE0,0010'. */
  tag: string;
  /** Where that value starts in the original file, and its declared length. */
  valueOffset: number;
  valueLength: number;
  /** The file's new length: valueOffset < cutAt < valueOffset + valueLength. */
  cutAt: number;
}

export interface ForeignCorpusOptions {
  /** Seeds the generated study (and the UIDs of the objects written here); unseeded corpora are unique. */
  seed?: number;
  /** Time limit of each tool run. Default 30 s. */
  toolTimeoutMs?: number;
}

/** Orthanc's answer to one file, as measured by postForeignCorpus. */
export interface OrthancMeasurement {
  name: string;
  verdict: OrthancVerdict;
  httpStatus: number;
  /** Orthanc's instance id and the SOP Instance UID it stored the file under, when stored. */
  orthancId?: string;
  sopInstanceUid?: string;
  /** Stored: whether the file Orthanc keeps is byte for byte the posted one. */
  storedIdentical?: boolean;
  /** Stored: whether Orthanc's file is Part 10 (preamble, DICM, meta). */
  storedPart10?: boolean;
  /** Stored: whether the data set in Orthanc's file (after its meta, if any) equals the posted data set. */
  storedDataSetIdentical?: boolean;
  /** Refused: Orthanc's error text. */
  error?: string;
}

const SOP_CLASS = {
  BASIC_TEXT_SR: '1.2.840.10008.5.1.4.1.1.88.11',
  KEY_OBJECT_SELECTION: '1.2.840.10008.5.1.4.1.1.88.59',
  ENCAPSULATED_PDF: '1.2.840.10008.5.1.4.1.1.104.1',
  GRAYSCALE_SOFTCOPY_PS: '1.2.840.10008.5.1.4.1.1.11.1',
} as const;

export const COMPRESSED_TRANSFER_SYNTAX_UIDS = {
  'jpeg-lossless-sv1': '1.2.840.10008.1.2.4.70',
  'jpeg-ls-lossless': '1.2.840.10008.1.2.4.80',
  'jpeg-2000-lossless': '1.2.840.10008.1.2.4.90',
  rle: '1.2.840.10008.1.2.5',
} as const;

/**
 * Orthanc 1.10.1's verdict per case name, measured (see the module comment). A case not listed
 * here has no measurement yet; writeForeignCorpus refuses to return it.
 */
export const ORTHANC_VERDICTS: Readonly<Record<string, OrthancVerdict>> = {
  'part10-control': 'stored',
  'headerless-implicit-le': 'stored',
  'headerless-explicit-le': 'stored',
  'headerless-stripped-explicit-le': 'stored',
  'no-pixel-basic-text-sr': 'stored',
  'no-pixel-key-object-selection': 'stored',
  'no-pixel-encapsulated-pdf': 'stored',
  'no-pixel-presentation-state': 'stored',
  'compressed-jpeg-lossless-dcmtk': 'stored',
  'compressed-rle-dcmtk': 'stored',
  'compressed-jpeg-ls-dcmtk': 'stored',
  'compressed-jpeg2000-gdcm': 'stored',
  'truncated-pixel-data': 'refused',
  'truncated-header': 'refused',
  'no-sop-instance-uid': 'refused',
  'no-series-instance-uid': 'refused',
  'duplicate-original': 'stored',
  'duplicate-gdcmanon-copy': 'already-stored',
  'acr-nema-no-uids': 'refused',
};

/** Debian package of each external tool, for the error when one is missing. */
const TOOL_PACKAGES: Record<string, string> = {
  dcmconv: 'dcmtk', dump2dcm: 'dcmtk', dcmodify: 'dcmtk', dcmpsmk: 'dcmtk', pdf2dcm: 'dcmtk',
  dcmcjpeg: 'dcmtk', dcmcrle: 'dcmtk', dcmcjpls: 'dcmtk', dcmdump: 'dcmtk',
  gdcmconv: 'libgdcm-tools', gdcmanon: 'libgdcm-tools',
};

const execFileAsync = promisify(execFile);

/** Runs one external tool with a time limit; a failure says which tool, what it printed, and how to install it. */
async function runTool(command: string, args: string[], timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
    if (failure.code === 'ENOENT') {
      throw new Error(`${command} is not installed (Debian package ${TOOL_PACKAGES[command] ?? '?'}): run scripts/setup/system-packages.sh`, { cause: error });
    }
    const why = failure.killed ? `did not finish within ${timeoutMs} ms` : `failed: ${failure.stderr?.trim() || failure.message}`;
    throw new Error(`${command} ${args.join(' ')} ${why}`, { cause: error });
  }
}

const PREAMBLE_LENGTH = 128;

/** Whether the bytes start as a Part 10 file: 128-byte preamble then "DICM" (PS3.10 §7.1). */
export function isPart10(bytes: Buffer): boolean {
  return bytes.length >= PREAMBLE_LENGTH + 4 && bytes.toString('latin1', PREAMBLE_LENGTH, PREAMBLE_LENGTH + 4) === 'DICM';
}

/**
 * Offset where the data set starts: after the File Meta Information of a Part 10 file (the group
 * 0002 elements, always explicit VR little endian, PS3.10 §7.1), or 0 for a header-less data set.
 * A test-side helper for comparing data sets, not a DICOM reader.
 */
export function dataSetOffset(bytes: Buffer): number {
  if (!isPart10(bytes)) return 0;
  let offset = PREAMBLE_LENGTH + 4;
  while (offset + 8 <= bytes.length && bytes.readUInt16LE(offset) === 0x0002) {
    const vr = bytes.toString('latin1', offset + 4, offset + 6);
    offset += LONG_LENGTH_VRS.has(vr) ? 12 + bytes.readUInt32LE(offset + 8) : 8 + bytes.readUInt16LE(offset + 6);
  }
  return offset;
}

/** The data set of a Part 10 file or of a header-less one (then the whole buffer). */
export function dataSetOf(bytes: Buffer): Buffer {
  return bytes.subarray(dataSetOffset(bytes));
}

/**
 * Finds an element's value in explicit VR little endian bytes by its tag and VR (first match from
 * `from`, or the last one when `last`). Only for the generator's own files, whose layout is known.
 */
function findExplicitValue(bytes: Buffer, group: number, element: number, vr: string, options: { from?: number; last?: boolean } = {}): { valueOffset: number; valueLength: number } {
  const pattern = Buffer.alloc(6);
  pattern.writeUInt16LE(group, 0);
  pattern.writeUInt16LE(element, 2);
  pattern.write(vr, 4, 'latin1');
  const at = options.last ? bytes.lastIndexOf(pattern) : bytes.indexOf(pattern, options.from ?? 0);
  if (at < 0) throw new Error(`no (${hex4(group)},${hex4(element)}) ${vr} element found`);
  return LONG_LENGTH_VRS.has(vr)
    ? { valueOffset: at + 12, valueLength: bytes.readUInt32LE(at + 8) }
    : { valueOffset: at + 8, valueLength: bytes.readUInt16LE(at + 6) };
}

function hex4(value: number): string {
  return value.toString(16).toUpperCase().padStart(4, '0');
}

/** A Basic Text SR (PS3.3 §A.35.1): a report with one TEXT finding, no Pixel Data. */
function basicTextSrDump(study: GeneratedStudy, uids: { series: string; instance: string }): string {
  return [
    ...srDocumentHeader(study, SOP_CLASS.BASIC_TEXT_SR, 'SR', uids, 901),
    ...emptySequence('(0040,a372)'),
    '(0040,a040) CS [CONTAINER]',
    ...codeSequence('(0040,a043)', '18748-4', 'LN', 'Diagnostic Imaging Report'),
    '(0040,a050) CS [SEPARATE]',
    '(0040,a491) CS [COMPLETE]',
    '(0040,a493) CS [UNVERIFIED]',
    '(0040,a730) SQ (Sequence with undefined length)',
    '(fffe,e000) na (Item with undefined length)',
    '(0040,a010) CS [CONTAINS]',
    '(0040,a040) CS [TEXT]',
    ...codeSequence('(0040,a043)', '121071', 'DCM', 'Finding'),
    '(0040,a160) UT [No acute abnormality. Synthetic report written by the RelayPACS test kit.]',
    '(fffe,e00d) na (ItemDelimitationItem)',
    '(fffe,e0dd) na (SequenceDelimitationItem)',
  ].join('\n');
}

/** A Key Object Selection document (PS3.3 §A.35.4) flagging one image "Of Interest", no Pixel Data. */
function keyObjectSelectionDump(study: GeneratedStudy, uids: { series: string; instance: string }, image: GeneratedInstance): string {
  const referencedSop = [
    '(0008,1199) SQ (Sequence with undefined length)',
    '(fffe,e000) na (Item with undefined length)',
    `(0008,1150) UI ${image.sopClassUid}`,
    `(0008,1155) UI ${image.sopInstanceUid}`,
    '(fffe,e00d) na (ItemDelimitationItem)',
    '(fffe,e0dd) na (SequenceDelimitationItem)',
  ];
  return [
    ...srDocumentHeader(study, SOP_CLASS.KEY_OBJECT_SELECTION, 'KO', uids, 902),
    '(0040,a040) CS [CONTAINER]',
    ...codeSequence('(0040,a043)', '113000', 'DCM', 'Of Interest'),
    '(0040,a050) CS [SEPARATE]',
    '(0040,a375) SQ (Sequence with undefined length)',
    '(fffe,e000) na (Item with undefined length)',
    '(0008,1115) SQ (Sequence with undefined length)',
    '(fffe,e000) na (Item with undefined length)',
    ...referencedSop,
    `(0020,000e) UI ${image.seriesInstanceUid}`,
    '(fffe,e00d) na (ItemDelimitationItem)',
    '(fffe,e0dd) na (SequenceDelimitationItem)',
    `(0020,000d) UI ${study.studyInstanceUid}`,
    '(fffe,e00d) na (ItemDelimitationItem)',
    '(fffe,e0dd) na (SequenceDelimitationItem)',
    '(0040,a504) SQ (Sequence with undefined length)',
    '(fffe,e000) na (Item with undefined length)',
    '(0008,0105) CS [DCMR]',
    '(0040,db00) CS [2010]',
    '(fffe,e00d) na (ItemDelimitationItem)',
    '(fffe,e0dd) na (SequenceDelimitationItem)',
    '(0040,a730) SQ (Sequence with undefined length)',
    '(fffe,e000) na (Item with undefined length)',
    '(0040,a010) CS [CONTAINS]',
    '(0040,a040) CS [IMAGE]',
    ...referencedSop,
    '(fffe,e00d) na (ItemDelimitationItem)',
    '(fffe,e0dd) na (SequenceDelimitationItem)',
  ].join('\n');
}

/** A one-page PDF (ISO 32000-1 §7.5) with a correct cross-reference table, for pdf2dcm. */
export function minimalPdf(text: string): Buffer {
  const content = `BT /F1 18 Tf 72 720 Td (${text.replace(/[()\\]/g, '')}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, index) => {
    offsets.push(pdf.length);
    pdf += `${index + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

/** Reads back what a tool wrote, through DCMTK: SOP UIDs, transfer syntax, Pixel Data presence. */
async function describeFile(path: string, timeoutMs: number): Promise<{ sopClassUid?: string; sopInstanceUid?: string; transferSyntaxUid: string; pixelData: boolean; part10: boolean }> {
  const bytes = await readFile(path);
  // -dc: no silent corrections; +L: long values whole; -Un: UIDs as numbers. A damaged file fails here.
  const dump = await runTool('dcmdump', ['-dc', '+L', '-Un', path], timeoutMs);
  const value = (tag: string): string | undefined => {
    const line = dump.split('\n').find((l) => l.startsWith(`(${tag})`));
    const match = line && /^\(\w{4},\w{4}\) \w\w \[(.*?)\]/.exec(line);
    return match?.[1]?.replace(/[\0 ]+$/, '') || undefined;
  };
  // dcmdump prints "# Used TransferSyntax: <name or UID>" under the meta header and under the data set.
  const used = /# Dicom-Data-Set\n# Used TransferSyntax: (.*)$/m.exec(dump)?.[1]?.trim();
  const transferSyntaxUid = value('0002,0010') ?? transferSyntaxFromName(used);
  return {
    sopClassUid: value('0008,0016'),
    sopInstanceUid: value('0008,0018'),
    transferSyntaxUid,
    pixelData: dump.split('\n').some((l) => l.startsWith('(7fe0,0010)')),
    part10: isPart10(bytes),
  };
}

/** dcmdump's name of the uncompressed syntaxes a header-less data set can be read in. */
function transferSyntaxFromName(name: string | undefined): string {
  switch (name) {
    case 'Little Endian Implicit': return TRANSFER_SYNTAX_UIDS['implicit-le'];
    case 'Little Endian Explicit': return TRANSFER_SYNTAX_UIDS['explicit-le'];
    case 'Big Endian Explicit': return TRANSFER_SYNTAX_UIDS['explicit-be'];
    default: {
      if (name && /^[\d.]+$/.test(name)) return name;
      throw new Error(`dcmdump reported an unexpected transfer syntax: ${name ?? 'none'}`);
    }
  }
}

/**
 * Writes the corpus into `dir` (created if needed) and returns its cases in the order they should
 * be posted (a duplicate's original comes before its copy). Sources are generated in a temporary
 * directory that is removed afterwards; only the cases' files stay in `dir`.
 */
export async function writeForeignCorpus(dir: string, options: ForeignCorpusOptions = {}): Promise<ForeignCase[]> {
  const timeoutMs = options.toolTimeoutMs ?? 30_000;
  const random = new SeededRandom(options.seed === undefined ? undefined : options.seed + 1);
  await mkdir(dir, { recursive: true });
  const scratch = await mkdtemp(join(tmpdir(), 'relaypacs-foreign-src-'));
  try {
    // 16-bit CT, 12 bits stored, explicit VR little endian: every codec here takes it losslessly.
    const study = await generateStudy(join(scratch, 'study'), { instances: 14, series: 2, rows: 64, columns: 64, modality: 'CT', transferSyntax: 'explicit-le', seed: options.seed });
    const sources = [...study.instances];
    const nextSource = (): GeneratedInstance => {
      const source = sources.shift();
      if (!source) throw new Error('the foreign corpus ran out of generated instances');
      return source;
    };
    const cases: ForeignCase[] = [];
    let index = 0;
    const fileFor = (name: string, extension = '.dcm'): string => join(dir, `${String(++index).padStart(2, '0')}-${name}${extension}`);
    const add = async (partial: Omit<ForeignCase, 'expected' | 'sopClassUid' | 'sopInstanceUid' | 'transferSyntaxUid' | 'pixelData' | 'part10'>): Promise<ForeignCase> => {
      const expected = ORTHANC_VERDICTS[partial.name];
      if (!expected) throw new Error(`no measured Orthanc verdict for case ${partial.name}`);
      const described = partial.kind === 'truncated'
        // DCMTK will not read a truncated file; the source's attributes stand for it.
        ? undefined
        : await describeFile(partial.file, timeoutMs);
      const foreignCase: ForeignCase = { ...partial, expected, ...described } as ForeignCase;
      cases.push(foreignCase);
      return foreignCase;
    };
    const run = (command: string, args: string[]): Promise<string> => runTool(command, args, timeoutMs);

    // The control: a plain Part 10 file as the generator writes it.
    const control = nextSource();
    {
      const file = fileFor('part10-control');
      await copyFile(control.path, file);
      await add({ name: 'part10-control', file, kind: 'part10', writtenBy: 'RelayPACS study generator', note: 'An ordinary Part 10 CT image: every reader must take it.' });
    }

    // 1. Data sets without the Part 10 header. DCMTK's "write data set without file meta information".
    for (const [name, option, label] of [['headerless-implicit-le', '+ti', 'implicit'], ['headerless-explicit-le', '+te', 'explicit']] as const) {
      const file = fileFor(name, '');
      await run('dcmconv', ['-F', option, nextSource().path, file]);
      const created = await add({ name, file, kind: 'headerless', writtenBy: `dcmconv -F ${option}`, dataSet: await readFile(file), note: `A bare data set in ${label} VR little endian, as old media and "data set only" writers store it.` });
      if (created.part10) throw new Error(`dcmconv -F wrote a Part 10 file for ${name}`);
    }
    {
      // The generator's own data set with its preamble and meta cut off: the data set bytes are
      // those of a Part 10 file, so a relay that adds a header can be checked against the original.
      const source = nextSource();
      const bytes = await readFile(source.path);
      const dataSet = dataSetOf(bytes);
      const file = fileFor('headerless-stripped-explicit-le', '');
      await writeFile(file, dataSet);
      await add({ name: 'headerless-stripped-explicit-le', file, kind: 'headerless', writtenBy: 'RelayPACS study generator, preamble and group 0002 removed', dataSet, note: 'The data set of a Part 10 file without its first bytes up to the end of the File Meta Information.' });
    }

    // 2. Complete objects without Pixel Data.
    {
      const uids = { series: randomUid(random), instance: randomUid(random) };
      const dumpFile = join(scratch, 'sr.dump');
      await writeFile(dumpFile, basicTextSrDump(study, uids));
      const file = fileFor('no-pixel-basic-text-sr');
      await run('dump2dcm', ['+te', dumpFile, file]);
      await add({ name: 'no-pixel-basic-text-sr', file, kind: 'no-pixel-data', writtenBy: 'dump2dcm +te', note: 'A Basic Text SR report: content tree, no image.' });
    }
    {
      const uids = { series: randomUid(random), instance: randomUid(random) };
      const dumpFile = join(scratch, 'kos.dump');
      await writeFile(dumpFile, keyObjectSelectionDump(study, uids, control));
      const file = fileFor('no-pixel-key-object-selection');
      await run('dump2dcm', ['+ti', dumpFile, file]);
      await add({ name: 'no-pixel-key-object-selection', file, kind: 'no-pixel-data', writtenBy: 'dump2dcm +ti', note: 'A Key Object Selection flagging the control image, in implicit VR.' });
    }
    {
      const pdf = join(scratch, 'report.pdf');
      await writeFile(pdf, minimalPdf('Synthetic report'));
      const file = fileFor('no-pixel-encapsulated-pdf');
      await run('pdf2dcm', ['+t', 'Synthetic report', '+st', control.path, pdf, file]);
      await add({ name: 'no-pixel-encapsulated-pdf', file, kind: 'no-pixel-data', writtenBy: 'pdf2dcm +st', note: 'An Encapsulated PDF: the document is in Encapsulated Document (0042,0011), not Pixel Data.' });
    }
    {
      const file = fileFor('no-pixel-presentation-state');
      await run('dcmpsmk', [control.path, file]);
      await add({ name: 'no-pixel-presentation-state', file, kind: 'no-pixel-data', writtenBy: 'dcmpsmk', note: 'A Grayscale Softcopy Presentation State for the control image.' });
    }

    // 3. Compressed transfer syntaxes written by other toolkits.
    for (const [name, command, args] of [
      ['compressed-jpeg-lossless-dcmtk', 'dcmcjpeg', ['+e1']],
      ['compressed-rle-dcmtk', 'dcmcrle', []],
      ['compressed-jpeg-ls-dcmtk', 'dcmcjpls', ['+el']],
      ['compressed-jpeg2000-gdcm', 'gdcmconv', ['--j2k']],
    ] as const) {
      const file = fileFor(name);
      await run(command, [...args, nextSource().path, file]);
      await add({ name, file, kind: 'compressed', writtenBy: [command, ...args].join(' '), note: `Encapsulated Pixel Data written by ${command}.` });
    }

    // 4. Truncated: Part 10 files cut in the middle of a value.
    const truncated = async (name: string, tag: [number, number], vr: string, where: { last: true } | 'data set', pixelData: boolean, note: string) => {
      const source = nextSource();
      const bytes = await readFile(source.path);
      const value = findExplicitValue(bytes, tag[0], tag[1], vr, where === 'data set' ? { from: dataSetOffset(bytes) } : where);
      const cutAt = value.valueOffset + Math.floor(value.valueLength / 2);
      const file = fileFor(name);
      await writeFile(file, bytes.subarray(0, cutAt));
      const tagText = tag.map((n) => n.toString(16).toUpperCase().padStart(4, '0')).join(',');
      cases.push({
        name, file, kind: 'truncated', writtenBy: 'RelayPACS study generator, cut', part10: true,
        transferSyntaxUid: source.transferSyntaxUid, sopClassUid: source.sopClassUid, sopInstanceUid: source.sopInstanceUid, pixelData,
        expected: ORTHANC_VERDICTS[name]!,
        truncation: { originalSize: bytes.length, tag: tagText, valueOffset: value.valueOffset, valueLength: value.valueLength, cutAt },
        note,
      });
    };
    await truncated('truncated-pixel-data', [0x7fe0, 0x0010], 'OW', { last: true }, true, 'A copy interrupted half way through the Pixel Data value.');
    await truncated('truncated-header', [0x0010, 0x0010], 'PN', 'data set', false, 'A file cut inside Patient\'s Name (0010,0010): long before the Pixel Data.');

    // 5. No SOP Instance UID in the data set. DCMTK then fills the meta's (0002,0003) with a UID it makes up.
    {
      const file = fileFor('no-sop-instance-uid');
      await copyFile(nextSource().path, file);
      await run('dcmodify', ['-nb', '-ea', '(0008,0018)', file]);
      await add({ name: 'no-sop-instance-uid', file, kind: 'no-sop-instance-uid', writtenBy: 'dcmodify -ea (0008,0018)', note: 'SOP Instance UID (0008,0018) erased from the data set; DCMTK put a new UID of its own in the meta\'s (0002,0003).' });
    }

    // 5b. No Series Instance UID: a PACS files every instance under its series (PS3.4 §C.1.2.1).
    {
      const file = fileFor('no-series-instance-uid');
      await copyFile(nextSource().path, file);
      await run('dcmodify', ['-nb', '-ea', '(0020,000e)', file]);
      await add({ name: 'no-series-instance-uid', file, kind: 'no-series-instance-uid', writtenBy: 'dcmodify -ea (0020,000E)', note: 'Series Instance UID (0020,000E) erased from the data set.' });
    }

    // 6. Two different files with one SOP Instance UID: an original and a copy that GDCM's
    // anonymizer changed without new UIDs (--dumb edits only what it is told).
    {
      const source = nextSource();
      const original = fileFor('duplicate-original');
      await copyFile(source.path, original);
      await add({ name: 'duplicate-original', file: original, kind: 'part10', writtenBy: 'RelayPACS study generator', note: 'The first of two different files with one SOP Instance UID.' });
      const copy = fileFor('duplicate-gdcmanon-copy');
      await run('gdcmanon', ['--dumb', '--replace', '0010,0010=DUPLICATE^COPY', '--replace', '0008,103e=EDITED COPY', '-i', source.path, '-o', copy]);
      await add({ name: 'duplicate-gdcmanon-copy', file: copy, kind: 'duplicate-uid', writtenBy: 'gdcmanon --dumb --replace', sameUidAs: 'duplicate-original', note: 'Same SOP Instance UID as duplicate-original, other patient name and series description.' });
    }

    // ACR-NEMA 2.0 style: no SOP Class or Instance UID, Recognition Code, group lengths, no meta.
    {
      const modified = join(scratch, 'acr-nema.dcm');
      await copyFile(nextSource().path, modified);
      await run('dcmodify', ['-nb', '-ea', '(0008,0016)', '-ea', '(0008,0018)', '-i', '(0008,0010)=ACR-NEMA 2.0', modified]);
      const file = fileFor('acr-nema-no-uids', '');
      await run('dcmconv', ['-F', '+ti', '+g', modified, file]);
      await add({ name: 'acr-nema-no-uids', file, kind: 'acr-nema', writtenBy: 'dcmodify -ea (0008,0016) -ea (0008,0018), dcmconv -F +ti +g', dataSet: await readFile(file), note: 'Like an ACR-NEMA 2.0 file: bare implicit VR data set with group lengths and a Recognition Code, nothing to store it by.' });
    }
    return cases;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Posts each file, in order, to Orthanc's REST API (POST /instances, the raw file as body) and
 * says what Orthanc did with it. Use an empty Orthanc: an instance already there reads as
 * 'already-stored'.
 */
export async function postForeignCorpus(orthanc: OrthancServer, cases: readonly ForeignCase[]): Promise<OrthancMeasurement[]> {
  const measurements: OrthancMeasurement[] = [];
  for (const foreignCase of cases) {
    const body = await readFile(foreignCase.file);
    const response = await orthanc.request('/instances', { method: 'POST', body, headers: { 'content-type': 'application/dicom' } });
    const text = await response.text();
    if (!response.ok) {
      measurements.push({ name: foreignCase.name, verdict: 'refused', httpStatus: response.status, error: text.trim() });
      continue;
    }
    const answer = JSON.parse(text) as { ID: string; Status: string };
    const verdict: OrthancVerdict = answer.Status === 'AlreadyStored' ? 'already-stored' : 'stored';
    if (answer.Status !== 'Success' && answer.Status !== 'AlreadyStored') {
      throw new Error(`Orthanc answered ${foreignCase.name} with status ${answer.Status}`);
    }
    const tags = await orthanc.instanceTags(answer.ID);
    const stored = await orthanc.instanceFile(answer.ID);
    measurements.push({
      name: foreignCase.name,
      verdict,
      httpStatus: response.status,
      orthancId: answer.ID,
      sopInstanceUid: typeof tags.SOPInstanceUID === 'string' ? tags.SOPInstanceUID : undefined,
      storedIdentical: stored.equals(body),
      storedPart10: isPart10(stored),
      storedDataSetIdentical: dataSetOf(stored).equals(dataSetOf(body)),
    });
  }
  return measurements;
}
