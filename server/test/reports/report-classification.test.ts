// Documents as a reporting system writes them (DCMTK dump2dcm and pdf2dcm), read by the shared
// DICOM package's tree reader, classified and rendered as the relay does before telling anyone.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, writeReportDocument, type GeneratedStudy, type ReportDocumentSpec } from '@relaypacs/testkit';
import { readPart10Tree } from '@relaypacs/dicom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyReport, DEFAULT_REPORT_CLASSIFICATION, mayBeReport } from '../../src/reports/report-classification.js';
import { renderStructuredReport } from '../../src/reports/sr-text.js';

let workDir: string;
let study: GeneratedStudy;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-reports-'));
  study = await generateStudy(join(workDir, 'study'), { instances: 1, rows: 16, columns: 16 });
});
afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function written(spec: ReportDocumentSpec) {
  const document = await writeReportDocument(join(workDir, 'docs'), study, spec);
  return { document, tree: (await readPart10Tree(await readFile(document.path))).dataSet };
}

describe('report classification', () => {
  it('tells a final report from a preliminary one by its completion and verification flags', async () => {
    const final = await written({ kind: 'report-sr' });
    expect(classifyReport(final.tree, DEFAULT_REPORT_CLASSIFICATION)).toEqual({ report: true, kind: 'sr', status: 'final', title: 'Diagnostic Imaging Report' });
    for (const flags of [{ completion: 'PARTIAL', verification: 'UNVERIFIED' }, { completion: 'COMPLETE', verification: 'UNVERIFIED' }, { completion: 'PARTIAL', verification: 'VERIFIED' }] as const) {
      const { tree } = await written({ kind: 'report-sr', ...flags });
      expect(classifyReport(tree, DEFAULT_REPORT_CLASSIFICATION)).toMatchObject({ report: true, status: 'preliminary' });
    }
  });

  it('calls a report with a predecessor an amendment', async () => {
    const first = await written({ kind: 'report-sr' });
    const amended = await written({ kind: 'report-sr', predecessor: first.document, seriesOf: first.document });
    expect(classifyReport(amended.tree, DEFAULT_REPORT_CLASSIFICATION)).toMatchObject({ report: true, status: 'amended' });
  });

  it('ignores a dose report and a key-object note, and an SR titled as something else', async () => {
    const dose = await written({ kind: 'dose-sr' });
    expect(classifyReport(dose.tree, DEFAULT_REPORT_CLASSIFICATION)).toEqual({ report: false, reason: 'SOP class 1.2.840.10008.5.1.4.1.1.88.67 is not a report class' });
    expect(mayBeReport(dose.document.sopClassUid)).toBe(false);
    const note = await written({ kind: 'key-object' });
    expect(classifyReport(note.tree, DEFAULT_REPORT_CLASSIFICATION)).toMatchObject({ report: false });
    expect(mayBeReport(note.document.sopClassUid)).toBe(false);
    // A dose report written as a Comprehensive SR (some modalities do): its title gives it away.
    const disguised = await written({ kind: 'report-sr', title: { value: '113701', scheme: 'DCM', meaning: 'X-Ray Radiation Dose Report' } });
    expect(classifyReport(disguised.tree, DEFAULT_REPORT_CLASSIFICATION)).toEqual({ report: false, reason: 'document title (DCM, 113701) is not a report title' });
    // A site's own title, once configured, counts.
    const local = await written({ kind: 'report-sr', title: { value: 'RAD-RPT', scheme: '99LOCAL', meaning: 'Befund' } });
    expect(classifyReport(local.tree, DEFAULT_REPORT_CLASSIFICATION)).toMatchObject({ report: false });
    expect(classifyReport(local.tree, { ...DEFAULT_REPORT_CLASSIFICATION, titles: [{ scheme: '99LOCAL', value: 'RAD-RPT' }] }))
      .toEqual({ report: true, kind: 'sr', status: 'final', title: 'Befund' });
  });

  it('takes a titled PDF as a final report; an untitled one only where configured', async () => {
    const pdf = await written({ kind: 'report-pdf', findings: ['Normal chest'] });
    expect(mayBeReport(pdf.document.sopClassUid)).toBe(true);
    expect(classifyReport(pdf.tree, DEFAULT_REPORT_CLASSIFICATION)).toEqual({ report: true, kind: 'pdf', status: 'final', title: 'Diagnostic Imaging Report' });
    const scanned = await written({ kind: 'report-pdf', title: null });
    expect(classifyReport(scanned.tree, DEFAULT_REPORT_CLASSIFICATION)).toEqual({ report: false, reason: 'the document has no coded title' });
    expect(classifyReport(scanned.tree, { ...DEFAULT_REPORT_CLASSIFICATION, untitledDocuments: 'report' }))
      .toEqual({ report: true, kind: 'pdf', status: 'final', title: undefined });
  });
});

describe('SR as text', () => {
  it('renders the title, the status and the content tree as indented lines', async () => {
    const { tree } = await written({ kind: 'report-sr', completion: 'COMPLETE', verification: 'VERIFIED', findings: ['No acute abnormality.', 'Second finding.'] });
    const text = renderStructuredReport(tree);
    expect(text).toMatch(/^Diagnostic Imaging Report\n=+\nStatus: COMPLETE, VERIFIED\nContent date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n\n/);
    expect(text.split('\n').slice(5).join('\n')).toBe([
      'Findings',
      '  Finding: No acute abnormality.',
      '  Finding: Second finding.',
      '',
    ].join('\n'));
  });
});
