import { TAG, type DataSetTree } from '@relaypacs/dicom';

/**
 * Which SR and encapsulated-document instances in a study are the radiologist's report, and its
 * status. Not every SR or DOC is a report: dose reports, CAD results, measurements, key-object notes
 * and scanned requests look alike by modality. Decided by SOP class, then by the document title
 * (Concept Name Code Sequence, PS3.3 §C.17.3 and §C.24.2), then for SR by the Completion and
 * Verification Flags (PS3.3 §C.17.2.1); a Predecessor Documents Sequence makes it an amendment.
 */

export type ReportStatus = 'preliminary' | 'final' | 'amended';
export type ReportKind = 'sr' | 'pdf' | 'cda' | 'hl7';

/** A coded document title: Coding Scheme Designator and Code Value (PS3.3 §8.1, §8.2). */
export interface TitleCode {
  scheme: string;
  value: string;
}

export interface ReportClassificationSettings {
  /** Titles that make an SR or encapsulated document a report. */
  titles: readonly TitleCode[];
  /**
   * An encapsulated PDF or CDA without a coded title (many RIS-made PDFs have none): 'ignore' (a
   * scanned request looks the same) or 'report'. SRs always need a title: their IODs require one.
   */
  untitledDocuments: 'ignore' | 'report';
}

/**
 * Diagnostic Imaging Report Document Titles, PS3.16 CID 7000 (LOINC "LN" and DICOM "DCM" codes).
 * Sites add their own (a RIS's local code) through configuration.
 */
export const DEFAULT_REPORT_TITLES: readonly TitleCode[] = [
  ...[
    '18748-4', '11528-7', '18745-0', '41806-1', '24627-2', '24725-4', '25045-6', '42148-7', '25061-3', '24590-2', '25056-3',
    '18756-7', '49118-3', '30695-1', '11525-3', '44136-0', '18750-0', '11524-0', '18752-6', '18754-2', '43468-8', '38269-7',
    '24606-6', '49512-7', '47048-4',
  ].map((value) => ({ scheme: 'LN', value })),
  ...['111400', '125195', '125196', '125197', '125200'].map((value) => ({ scheme: 'DCM', value })),
];

export const DEFAULT_REPORT_CLASSIFICATION: ReportClassificationSettings = { titles: DEFAULT_REPORT_TITLES, untitledDocuments: 'ignore' };

/** SR storage SOP classes that carry a narrative report (PS3.4 Table B.5-1); dose, CAD, KOS and logs are not among them. */
const REPORT_SR_CLASSES: ReadonlySet<string> = new Set([
  '1.2.840.10008.5.1.4.1.1.88.11', // Basic Text SR
  '1.2.840.10008.5.1.4.1.1.88.22', // Enhanced SR
  '1.2.840.10008.5.1.4.1.1.88.33', // Comprehensive SR
  '1.2.840.10008.5.1.4.1.1.88.34', // Comprehensive 3D SR
  '1.2.840.10008.5.1.4.1.1.88.35', // Extensible SR
]);
const ENCAPSULATED_PDF = '1.2.840.10008.5.1.4.1.1.104.1';
const ENCAPSULATED_CDA = '1.2.840.10008.5.1.4.1.1.104.2';

/** Whether instances of this SOP class can be reports at all: what a query asks for before fetching any. */
export function mayBeReport(sopClassUid: string): boolean {
  return REPORT_SR_CLASSES.has(sopClassUid) || sopClassUid === ENCAPSULATED_PDF || sopClassUid === ENCAPSULATED_CDA;
}

export type ReportClassification =
  | { report: true; kind: ReportKind; status: ReportStatus; title: string | undefined }
  /** Why not, naming codes and classes only (never a value that could be PHI). */
  | { report: false; reason: string };

export function classifyReport(dataSet: DataSetTree, settings: ReportClassificationSettings): ReportClassification {
  const sopClassUid = dataSet.uid(TAG.SOPClassUID) ?? '';
  const kind: ReportKind | undefined = REPORT_SR_CLASSES.has(sopClassUid) ? 'sr'
    : sopClassUid === ENCAPSULATED_PDF ? 'pdf' : sopClassUid === ENCAPSULATED_CDA ? 'cda' : undefined;
  if (!kind) return { report: false, reason: `SOP class ${sopClassUid || '(none)'} is not a report class` };
  const [titleItem] = dataSet.items(TAG.ConceptNameCodeSequence);
  const title = titleItem && { scheme: titleItem.text(TAG.CodingSchemeDesignator) ?? '', value: titleItem.text(TAG.CodeValue) ?? '' };
  if (!title || !title.value) {
    if (kind === 'sr') return { report: false, reason: 'the SR has no document title (Concept Name Code Sequence)' };
    if (settings.untitledDocuments === 'ignore') return { report: false, reason: 'the document has no coded title' };
  } else if (!settings.titles.some((t) => t.value === title.value && sameScheme(t.scheme, title.scheme))) {
    return { report: false, reason: `document title (${title.scheme}, ${title.value}) is not a report title` };
  }
  // The code's meaning only: a Document Title (0042,0010) is free text, which sites fill with names.
  const meaning = titleItem?.text(TAG.CodeMeaning);
  return { report: true, kind, status: statusOf(dataSet, kind), title: meaning || undefined };
}

/** LOINC's designator is "LN" in DICOM (PS3.16 Table 8-1); older objects wrote "LOINC". */
function sameScheme(a: string, b: string): boolean {
  const norm = (s: string) => (s.toUpperCase() === 'LOINC' ? 'LN' : s.toUpperCase());
  return norm(a) === norm(b);
}

function statusOf(dataSet: DataSetTree, kind: ReportKind): ReportStatus {
  if (dataSet.items(TAG.PredecessorDocumentsSequence).length > 0) return 'amended';
  // Encapsulated document IODs have no completion or verification flags: a document is what it is.
  if (kind !== 'sr') return 'final';
  const complete = dataSet.text(TAG.CompletionFlag)?.toUpperCase() === 'COMPLETE';
  const verified = dataSet.text(TAG.VerificationFlag)?.toUpperCase() === 'VERIFIED';
  return complete && verified ? 'final' : 'preliminary';
}
