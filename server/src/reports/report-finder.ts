import type { ReportSourceKind, ReportWatch } from '../store/reports-store.js';

/**
 * How the relay learns what a destination's PACS holds of the studies it watches: the DICOMweb
 * finder asks (QIDO-RS) for the watches due; the Orthanc finder reads the server's change feed from
 * where it left off. Either answers the documents that may be reports and were not looked at yet;
 * the monitor fetches, classifies and records them (report-monitor.ts).
 */

/** A document in a watched study whose SOP class or series says it may be a report, not looked at yet. */
export interface CandidateDocument {
  watch: ReportWatch;
  seriesInstanceUid: string | null;
  sopInstanceUid: string;
  /** The instance as a Part 10 file (bounded by the finder's size limit). */
  fetch(): Promise<Buffer>;
}

export interface FinderInput {
  /** Watches due now (the polling finder checks these). */
  due: readonly ReportWatch[];
  /** Every watch the destination follows (the feed finder matches its entries against these). */
  watching: readonly ReportWatch[];
  /** Where the feed finder left off (undefined: never read). */
  cursor: number | undefined;
  /** The documents of a watch's study already looked at. */
  known(watch: ReportWatch): Promise<Set<string>>;
}

export interface FinderResult {
  candidates: CandidateDocument[];
  /** For the watches checked: what the study holds now (instances), null when unknown. */
  checked: Map<ReportWatch, number | null>;
  /** The feed finder's new position. */
  cursor?: number;
  /** Watches whose study could not be listed this time (asked again at their next check, their count kept). */
  failed?: Set<ReportWatch>;
}

export interface ReportFinder {
  readonly source: ReportSourceKind;
  /** 'poll': checks due watches; 'feed': reads a change feed every round, whatever is due. */
  readonly mode: 'poll' | 'feed';
  find(input: FinderInput): Promise<FinderResult>;
  close(): Promise<void>;
}

/** Report series are SR (structured reports) and DOC (encapsulated documents) by their modality (PS3.3 §C.7.3.1.1.1). */
export const REPORT_SERIES_MODALITIES: ReadonlySet<string> = new Set(['SR', 'DOC']);
