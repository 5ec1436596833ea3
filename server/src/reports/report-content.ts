import { readPart10Tree, TAG } from '@relaypacs/dicom';
import type { ReportKind } from './report-classification.js';
import { renderStructuredReport } from './sr-text.js';

/** A report as GET /reports/{id}/content serves it. */
export interface ServedReport {
  contentType: string;
  body: Buffer;
}

/**
 * The readable form of a kept report: an SR as plain structured text; an encapsulated PDF or CDA as
 * the document itself, trimmed to its Encapsulated Document Length (PS3.3 §C.24.2: the value is
 * padded to an even length, and a trailing byte can upset strict PDF readers); HL7 text as kept.
 */
export async function serveReport(kind: ReportKind, kept: Buffer): Promise<ServedReport> {
  if (kind === 'hl7') return { contentType: 'text/plain; charset=utf-8', body: kept };
  const { dataSet } = await readPart10Tree(kept);
  if (kind === 'sr') return { contentType: 'text/plain; charset=utf-8', body: Buffer.from(renderStructuredReport(dataSet), 'utf8') };
  const document = dataSet.bytes(TAG.EncapsulatedDocument) ?? Buffer.alloc(0);
  const length = dataSet.uint32(TAG.EncapsulatedDocumentLength);
  const body = length !== undefined && length <= document.length ? document.subarray(0, length) : document;
  return { contentType: kind === 'pdf' ? 'application/pdf' : 'text/xml; charset=utf-8', body };
}
