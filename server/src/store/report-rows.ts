import type { ReportKind, ReportStatus } from '../reports/report-classification.js';
import type { ReportRecord, ReportSourceKind, ReportWatch, WatchState } from './reports-store.js';

/** The report_watches and reports tables' rows as both SQL backends read them, mapped once. */

export interface WatchRow {
  upload_id: string; destination: string; study_instance_uid: string; user_id: number; state: WatchState; started_at: string;
  next_check_at: string; interval_seconds: number; until: string; known_instances: number | null;
}
export interface ReportRow {
  id: number; upload_id: string; destination: string; user_id: number; study_instance_uid: string; series_instance_uid: string | null;
  sop_instance_uid: string; kind: ReportKind; status: ReportStatus; title: string | null; source: ReportSourceKind; detected_at: string;
  has_content: number | boolean;
}

export const WATCH_COLUMNS = `upload_id, destination, study_instance_uid, user_id, state, started_at, next_check_at, interval_seconds, until, known_instances`;
/** The same, qualified by the alias `w` for queries that join the watches to uploads. */
export const WATCH_COLUMNS_OF_W = WATCH_COLUMNS.split(', ').map((column) => `w.${column}`).join(', ');
export const REPORT_COLUMNS = `id, upload_id, destination, user_id, study_instance_uid, series_instance_uid, sop_instance_uid, kind, status, title, source,
  detected_at, content IS NOT NULL AS has_content`;

export const toWatch = (r: WatchRow): ReportWatch => ({
  uploadId: r.upload_id, destination: r.destination, studyInstanceUid: r.study_instance_uid, userId: r.user_id, state: r.state,
  startedAt: r.started_at, nextCheckAt: r.next_check_at, intervalSeconds: r.interval_seconds, until: r.until, knownInstances: r.known_instances,
});
export const toReport = (r: ReportRow): ReportRecord => ({
  id: r.id, uploadId: r.upload_id, destination: r.destination, userId: r.user_id, studyInstanceUid: r.study_instance_uid,
  seriesInstanceUid: r.series_instance_uid, sopInstanceUid: r.sop_instance_uid, kind: r.kind, status: r.status, title: r.title,
  source: r.source, detectedAt: r.detected_at, hasContent: Boolean(r.has_content),
});
