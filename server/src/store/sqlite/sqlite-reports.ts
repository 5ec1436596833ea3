import { REPORT_COLUMNS, WATCH_COLUMNS, WATCH_COLUMNS_OF_W, toReport, toWatch, type ReportRow, type WatchRow } from '../report-rows.js';
import type { NewReport, NewReportWatch, ReportRecord, ReportsStore, ReportWatch, WatchState } from '../reports-store.js';
import type { Synchronous } from './async-facade.js';
import type { RelayDatabase } from './database.js';

/** ReportsStore's SQL. */
export class SqliteReports implements Synchronous<ReportsStore> {
  constructor(private readonly db: RelayDatabase, private readonly now: () => Date) {}

  watch(watch: NewReportWatch): void {
    this.db.prepare(`INSERT INTO report_watches (upload_id, destination, study_instance_uid, user_id, state, started_at, next_check_at, interval_seconds, until)
      VALUES (?, ?, ?, ?, 'watching', ?, ?, ?, ?) ON CONFLICT (upload_id, destination) DO NOTHING`)
      .run(watch.uploadId, watch.destination, watch.studyInstanceUid, watch.userId, this.now().toISOString(), watch.nextCheckAt, watch.intervalSeconds, watch.until);
  }

  dueWatches(destination: string, now: string, limit: number): ReportWatch[] {
    return (this.db.prepare(`SELECT ${WATCH_COLUMNS} FROM report_watches WHERE destination = ? AND state = 'watching' AND next_check_at <= ?
      ORDER BY next_check_at, upload_id LIMIT ?`).all(destination, now, limit) as WatchRow[]).map(toWatch);
  }

  watching(destination: string): ReportWatch[] {
    return (this.db.prepare(`SELECT ${WATCH_COLUMNS} FROM report_watches WHERE destination = ? AND state = 'watching' ORDER BY upload_id`)
      .all(destination) as WatchRow[]).map(toWatch);
  }

  watchesOfStudy(studyInstanceUid: string): ReportWatch[] {
    return (this.db.prepare(`SELECT ${WATCH_COLUMNS} FROM report_watches WHERE study_instance_uid = ? AND state <> 'expired' ORDER BY upload_id, destination`)
      .all(studyInstanceUid) as WatchRow[]).map(toWatch);
  }

  watchesOfAccession(accessionNumber: string): ReportWatch[] {
    return (this.db.prepare(`SELECT ${WATCH_COLUMNS_OF_W} FROM report_watches w JOIN uploads u ON u.id = w.upload_id
      WHERE u.accession_number = ? AND w.state <> 'expired' ORDER BY w.upload_id, w.destination`).all(accessionNumber) as WatchRow[]).map(toWatch);
  }

  updateWatch(uploadId: string, destination: string, update: { state: WatchState; nextCheckAt: string; intervalSeconds: number; knownInstances: number | null }): void {
    this.db.prepare(`UPDATE report_watches SET state = ?, next_check_at = ?, interval_seconds = ?, known_instances = ? WHERE upload_id = ? AND destination = ?`)
      .run(update.state, update.nextCheckAt, update.intervalSeconds, update.knownInstances, uploadId, destination);
  }

  expireWatches(now: string): number {
    return this.db.prepare(`UPDATE report_watches SET state = 'expired' WHERE state = 'watching' AND until < ?`).run(now).changes;
  }

  record(report: NewReport): { id: number; created: boolean } {
    const inserted = this.db.prepare(`INSERT INTO reports (upload_id, destination, user_id, study_instance_uid, series_instance_uid, sop_instance_uid,
        kind, status, title, source, detected_at, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (upload_id, destination, sop_instance_uid) DO NOTHING`).run(
      report.uploadId, report.destination, report.userId, report.studyInstanceUid, report.seriesInstanceUid, report.sopInstanceUid,
      report.kind, report.status, report.title, report.source, report.detectedAt, report.content);
    if (inserted.changes === 1) return { id: Number(inserted.lastInsertRowid), created: true };
    const row = this.db.prepare('SELECT id FROM reports WHERE upload_id = ? AND destination = ? AND sop_instance_uid = ?')
      .get(report.uploadId, report.destination, report.sopInstanceUid) as { id: number };
    return { id: row.id, created: false };
  }

  knownDocuments(watch: Pick<ReportWatch, 'uploadId' | 'destination' | 'studyInstanceUid'>): Set<string> {
    const rows = this.db.prepare(`SELECT sop_instance_uid AS uid FROM reports WHERE upload_id = ? AND destination = ?
      UNION SELECT sop_instance_uid FROM report_non_reports WHERE destination = ? AND study_instance_uid = ?
      UNION SELECT sop_instance_uid FROM upload_instances WHERE upload_id = ?`)
      .all(watch.uploadId, watch.destination, watch.destination, watch.studyInstanceUid, watch.uploadId) as { uid: string }[];
    return new Set(rows.map((r) => r.uid));
  }

  rememberNotReport(destination: string, studyInstanceUid: string, sopInstanceUid: string, now: string): void {
    this.db.prepare(`INSERT INTO report_non_reports (destination, study_instance_uid, sop_instance_uid, seen_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (destination, sop_instance_uid) DO NOTHING`).run(destination, studyInstanceUid, sopInstanceUid, now);
  }

  ofUpload(uploadId: string): ReportRecord[] {
    return (this.db.prepare(`SELECT ${REPORT_COLUMNS} FROM reports WHERE upload_id = ? ORDER BY id`).all(uploadId) as ReportRow[]).map(toReport);
  }

  ofUser(userId: number, since: string | undefined, limit: number): ReportRecord[] {
    return (this.db.prepare(`SELECT ${REPORT_COLUMNS} FROM reports WHERE user_id = ? AND (? IS NULL OR detected_at > ?) ORDER BY id DESC LIMIT ?`)
      .all(userId, since ?? null, since ?? null, limit) as ReportRow[]).map(toReport);
  }

  ofUserAfter(userId: number, afterId: number, limit: number): ReportRecord[] {
    return (this.db.prepare(`SELECT ${REPORT_COLUMNS} FROM reports WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?`)
      .all(userId, afterId, limit) as ReportRow[]).map(toReport);
  }

  find(id: number): ReportRecord | undefined {
    const row = this.db.prepare(`SELECT ${REPORT_COLUMNS} FROM reports WHERE id = ?`).get(id) as ReportRow | undefined;
    return row && toReport(row);
  }

  content(id: number): Buffer | undefined {
    const row = this.db.prepare('SELECT content FROM reports WHERE id = ?').get(id) as { content: Buffer | null } | undefined;
    return row?.content ?? undefined;
  }

  dropContentBefore(before: string): number {
    return this.db.prepare('UPDATE reports SET content = NULL WHERE content IS NOT NULL AND detected_at < ?').run(before).changes;
  }

  cursor(destination: string): number | undefined {
    const row = this.db.prepare('SELECT cursor FROM report_cursors WHERE destination = ?').get(destination) as { cursor: number } | undefined;
    return row?.cursor;
  }

  setCursor(destination: string, cursor: number, now: string): void {
    this.db.prepare(`INSERT INTO report_cursors (destination, cursor, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (destination) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`).run(destination, cursor, now);
  }
}
