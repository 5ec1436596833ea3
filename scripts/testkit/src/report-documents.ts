import { execFile } from 'node:child_process';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { codeSequence, dumpValue, emptySequence, srDocumentHeader } from './dicom-dump.js';
import { randomUid } from './dicom-uid.js';
import { minimalPdf } from './foreign-dicom.js';
import { SeededRandom } from './seeded-random.js';
import type { GeneratedStudy } from './study-generator.js';

const run = promisify(execFile);

/**
 * Documents a reporting system stores into a study after the images, written with DCMTK as such
 * systems' integrators do: SRs with dump2dcm, PDFs with pdf2dcm (+st takes the patient and study
 * from an image of the study). Each kind the relay must tell apart: the report itself (preliminary,
 * final, amended), and the SRs that are not reports (a dose report, a key-object note).
 */

export type ReportDocumentKind = 'report-sr' | 'report-pdf' | 'dose-sr' | 'key-object';

export interface ReportDocumentSpec {
  kind: ReportDocumentKind;
  /** SR only (PS3.3 §C.17.2): PARTIAL/COMPLETE and UNVERIFIED/VERIFIED; a final report is COMPLETE and VERIFIED. */
  completion?: 'PARTIAL' | 'COMPLETE';
  verification?: 'UNVERIFIED' | 'VERIFIED';
  /** Makes the SR an amendment of this earlier one (Predecessor Documents Sequence, PS3.3 §C.17.2.3). */
  predecessor?: WrittenReportDocument;
  /** TEXT findings (SR), or the PDF's one line. */
  findings?: string[];
  /** The document title; defaults to LOINC 18748-4 "Diagnostic Imaging Report" for reports. PDF only: null writes none (a scanned paper). */
  title?: { value: string; scheme: string; meaning: string } | null;
  /** Same series as this document (an amendment usually is), else a new series. */
  seriesOf?: WrittenReportDocument;
  /** A report SR's SOP class: Comprehensive (default), Comprehensive 3D or Extensible SR. */
  srClass?: 'comprehensive' | 'comprehensive-3d' | 'extensible';
}

export interface WrittenReportDocument {
  path: string;
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
}

const SR_CLASSES = {
  COMPREHENSIVE_SR: '1.2.840.10008.5.1.4.1.1.88.33',
  XRAY_DOSE_SR: '1.2.840.10008.5.1.4.1.1.88.67',
  KEY_OBJECT_SELECTION: '1.2.840.10008.5.1.4.1.1.88.59',
  ENCAPSULATED_PDF: '1.2.840.10008.5.1.4.1.1.104.1',
} as const;
const REPORT_TITLE = { value: '18748-4', scheme: 'LN', meaning: 'Diagnostic Imaging Report' };

export async function writeReportDocument(directory: string, study: GeneratedStudy, spec: ReportDocumentSpec): Promise<WrittenReportDocument> {
  await mkdir(directory, { recursive: true });
  const random = new SeededRandom();
  const uids = { series: spec.seriesOf?.seriesInstanceUid ?? randomUid(random), instance: randomUid(random) };
  const path = join(directory, `${spec.kind}-${uids.instance.slice(-12)}.dcm`);
  if (spec.kind === 'report-pdf') {
    const pdf = join(directory, `${uids.instance.slice(-12)}.pdf`);
    await writeFile(pdf, minimalPdf(spec.findings?.[0] ?? 'Report'));
    const title = spec.title === undefined ? REPORT_TITLE : spec.title;
    const titled = title ? ['+t', title.meaning, '+cn', title.scheme, title.value, title.meaning] : ['+t', 'Scanned document'];
    await run('pdf2dcm', [...titled, '+st', study.instances[0]!.path, '-k', `0020,000E=${uids.series}`, '-k', `0008,0018=${uids.instance}`, pdf, path]);
    await written(path);
    return { path, sopClassUid: SR_CLASSES.ENCAPSULATED_PDF, sopInstanceUid: uids.instance, seriesInstanceUid: uids.series };
  }
  const reportClass = spec.srClass === 'extensible' ? '1.2.840.10008.5.1.4.1.1.88.35' : spec.srClass === 'comprehensive-3d' ? '1.2.840.10008.5.1.4.1.1.88.34' : SR_CLASSES.COMPREHENSIVE_SR;
  const sopClassUid = spec.kind === 'dose-sr' ? SR_CLASSES.XRAY_DOSE_SR : spec.kind === 'key-object' ? SR_CLASSES.KEY_OBJECT_SELECTION : reportClass;
  const title = spec.title ?? (spec.kind === 'dose-sr' ? { value: '113701', scheme: 'DCM', meaning: 'X-Ray Radiation Dose Report' }
    : spec.kind === 'key-object' ? { value: '113000', scheme: 'DCM', meaning: 'Of Interest' } : REPORT_TITLE);
  const dump = [
    ...srDocumentHeader(study, sopClassUid, spec.kind === 'key-object' ? 'KO' : 'SR', uids, 900),
    ...(spec.kind === 'key-object' ? [] : emptySequence('(0040,a372)')),
    '(0040,a040) CS [CONTAINER]',
    ...codeSequence('(0040,a043)', title.value, title.scheme, title.meaning),
    '(0040,a050) CS [SEPARATE]',
    ...(spec.kind === 'key-object' ? [] : [
      `(0040,a491) CS [${spec.completion ?? 'COMPLETE'}]`,
      `(0040,a493) CS [${spec.verification ?? 'VERIFIED'}]`,
    ]),
    ...(spec.predecessor ? predecessorDocuments(study, spec.predecessor) : []),
    '(0040,a730) SQ (Sequence with undefined length)',
    ...findingsContainer(spec.findings ?? ['No acute abnormality.']),
    '(fffe,e0dd) na (SequenceDelimitationItem)',
  ];
  const dumpPath = `${path}.dump`;
  await writeFile(dumpPath, dump.join('\n'));
  const { stderr } = await run('dump2dcm', ['+te', dumpPath, path]);
  await written(path, stderr);
  return { path, sopClassUid, sopInstanceUid: uids.instance, seriesInstanceUid: uids.series };
}

/** DCMTK tools may report a failure and still exit 0: the file is the proof. */
async function written(path: string, stderr = ''): Promise<void> {
  if (!(await stat(path).catch(() => undefined))?.isFile()) throw new Error(`DCMTK wrote no ${path}: ${stderr.trim()}`);
}

/** A "Findings" heading holding one TEXT item per finding (PS3.16 TID 2000's shape, simplified). */
function findingsContainer(findings: string[]): string[] {
  return [
    '(fffe,e000) na (Item with undefined length)',
    '(0040,a010) CS [CONTAINS]',
    '(0040,a040) CS [CONTAINER]',
    ...codeSequence('(0040,a043)', '59776-5', 'LN', 'Findings'),
    '(0040,a050) CS [SEPARATE]',
    '(0040,a730) SQ (Sequence with undefined length)',
    ...findings.flatMap((text) => [
      '(fffe,e000) na (Item with undefined length)',
      '(0040,a010) CS [CONTAINS]',
      '(0040,a040) CS [TEXT]',
      ...codeSequence('(0040,a043)', '121071', 'DCM', 'Finding'),
      `(0040,a160) UT ${dumpValue(text)}`,
      '(fffe,e00d) na (ItemDelimitationItem)',
    ]),
    '(fffe,e0dd) na (SequenceDelimitationItem)',
    '(fffe,e00d) na (ItemDelimitationItem)',
  ];
}

/** Predecessor Documents Sequence: the Hierarchical SOP Instance Reference Macro (PS3.3 Table C.17-3). */
function predecessorDocuments(study: GeneratedStudy, earlier: WrittenReportDocument): string[] {
  return [
    '(0040,a360) SQ (Sequence with undefined length)',
    '(fffe,e000) na (Item with undefined length)',
    '(0008,1115) SQ (Sequence with undefined length)',
    '(fffe,e000) na (Item with undefined length)',
    '(0008,1199) SQ (Sequence with undefined length)',
    '(fffe,e000) na (Item with undefined length)',
    `(0008,1150) UI ${earlier.sopClassUid}`,
    `(0008,1155) UI ${earlier.sopInstanceUid}`,
    '(fffe,e00d) na (ItemDelimitationItem)',
    '(fffe,e0dd) na (SequenceDelimitationItem)',
    `(0020,000e) UI ${earlier.seriesInstanceUid}`,
    '(fffe,e00d) na (ItemDelimitationItem)',
    '(fffe,e0dd) na (SequenceDelimitationItem)',
    `(0020,000d) UI ${study.studyInstanceUid}`,
    '(fffe,e00d) na (ItemDelimitationItem)',
    '(fffe,e0dd) na (SequenceDelimitationItem)',
  ];
}
