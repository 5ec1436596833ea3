import type { ReportKind, ReportStatus } from '../reports/report-classification.js';

/**
 * What the relay learns of reports in the PACS (reports/report-monitor.ts): the studies it watches
 * per destination (delivered there, report not final yet), the reports found, and where it is in a
 * destination's change feed. Ids, UIDs, codes and states only, except a report's content, which
 * only GET /reports/{id}/content reads (audited) and which is dropped after its retention.
 */

export type WatchState = 'watching' | 'done' | 'expired';

export interface ReportWatch {
  uploadId: string;
  destination: string;
  studyInstanceUid: string;
  /** Who sent the study: told of its reports. */
  userId: number;
  state: WatchState;
  startedAt: string;
  nextCheckAt: string;
  /** The wait before the next check, which grows while nothing changes. */
  intervalSeconds: number;
  /** Watched no longer after this. */
  until: string;
  /** What the PACS last said the study holds (instances), to skip unchanged studies cheaply; null before the first check. */
  knownInstances: number | null;
}

export type NewReportWatch = Pick<ReportWatch, 'uploadId' | 'destination' | 'studyInstanceUid' | 'userId' | 'nextCheckAt' | 'intervalSeconds' | 'until'>;

/** Where a report was learned of. */
export type ReportSourceKind = 'qido-rs' | 'orthanc-changes' | 'c-find' | 'hl7';

export interface ReportRecord {
  id: number;
  uploadId: string;
  destination: string;
  userId: number;
  studyInstanceUid: string;
  seriesInstanceUid: string | null;
  /** The report's own SOP Instance UID (HL7: the message control id). */
  sopInstanceUid: string;
  kind: ReportKind;
  status: ReportStatus;
  /** The document title's meaning, e.g. "CT Report" (a code meaning, never a person's text). */
  title: string | null;
  source: ReportSourceKind;
  detectedAt: string;
  /** Whether the content is still held (it is dropped after its retention). */
  hasContent: boolean;
}

export type NewReport = Omit<ReportRecord, 'id' | 'hasContent'> & { content: Buffer | null };

export interface ReportsStore {
  /** Starts watching a study delivered to a destination; nothing when it is watched already. */
  watch(watch: NewReportWatch): Promise<void>;
  /** A destination's watches due at `now` (state 'watching'), soonest first, at most `limit`. */
  dueWatches(destination: string, now: string, limit: number): Promise<ReportWatch[]>;
  /** Every study a destination's watches still follow: what a change feed's entries are matched against. */
  watching(destination: string): Promise<ReportWatch[]>;
  /** After a check: when to look again, what the study held, and the watch's state. */
  updateWatch(uploadId: string, destination: string, update: { state: WatchState; nextCheckAt: string; intervalSeconds: number; knownInstances: number | null }): Promise<void>;
  /** Every watch of a study not expired (any destination, final report or not): what an HL7 report of it is matched against. */
  watchesOfStudy(studyInstanceUid: string): Promise<ReportWatch[]>;
  /** The same, for the studies whose uploads kept this accession number (UploadsStore.setAccessionNumber). */
  watchesOfAccession(accessionNumber: string): Promise<ReportWatch[]>;
  /** Watches still 'watching' past their `until` become 'expired'; answers how many. */
  expireWatches(now: string): Promise<number>;
  /** Records a report unless this destination's copy of that instance is known; answers its id and whether it is new. */
  record(report: NewReport): Promise<{ id: number; created: boolean }>;
  /**
   * The SOP Instance UIDs of this watch's study already looked at: its upload's reports from this
   * destination, the destination's instances of the study found to be no report, and the upload's
   * own instances (a study imported from a CD may carry the outside facility's report: it is the
   * sender's, not the report the sender waits for).
   */
  knownDocuments(watch: Pick<ReportWatch, 'uploadId' | 'destination' | 'studyInstanceUid'>): Promise<Set<string>>;
  /** Remembers an instance looked at that was no report, so it is not fetched again. */
  rememberNotReport(destination: string, studyInstanceUid: string, sopInstanceUid: string, now: string): Promise<void>;
  /** An upload's reports, oldest first. */
  ofUpload(uploadId: string): Promise<ReportRecord[]>;
  /** The reports of this user's uploads detected after `since` (or all), newest first, at most `limit`. */
  ofUser(userId: number, since: string | undefined, limit: number): Promise<ReportRecord[]>;
  /**
   * The reports of this user's uploads with an id above `afterId`, oldest first, at most `limit`: a
   * client catching up pages by id. record() commits reports in the order of their ids (PostgreSQL:
   * one insert at a time across relays; SQLite has one writer), so no report commits below an id a
   * client has already passed (a time cursor would skip one committed late with an earlier time).
   */
  ofUserAfter(userId: number, afterId: number, limit: number): Promise<ReportRecord[]>;
  find(id: number): Promise<ReportRecord | undefined>;
  /** The content kept for a report, if still held. */
  content(id: number): Promise<Buffer | undefined>;
  /** Drops the content of reports detected before `before`; answers how many. */
  dropContentBefore(before: string): Promise<number>;
  /** A change feed's position for a destination (Orthanc's /changes sequence), if one was kept. */
  cursor(destination: string): Promise<number | undefined>;
  setCursor(destination: string, cursor: number, now: string): Promise<void>;
}
