import { REPORT_COLUMNS, WATCH_COLUMNS, WATCH_COLUMNS_OF_W, toReport, toWatch, type ReportRow, type WatchRow } from '../report-rows.js';
import type { NewReport, NewReportWatch, ReportRecord, ReportsStore, ReportWatch, WatchState } from '../reports-store.js';
import { REPORT_INSERT_LOCK, type Db } from './postgres-db.js';

/** ReportsStore's SQL. */
export class PostgresReports implements ReportsStore {
  constructor(private readonly db: Db, private readonly now: () => Date) {}

  async watch(watch: NewReportWatch): Promise<void> {
    await this.db.query(`INSERT INTO report_watches (upload_id, destination, study_instance_uid, user_id, state, started_at, next_check_at, interval_seconds, until)
      VALUES ($1, $2, $3, $4, 'watching', $5, $6, $7, $8) ON CONFLICT (upload_id, destination) DO NOTHING`,
    [watch.uploadId, watch.destination, watch.studyInstanceUid, watch.userId, this.now().toISOString(), watch.nextCheckAt, watch.intervalSeconds, watch.until]);
  }

  async dueWatches(destination: string, now: string, limit: number): Promise<ReportWatch[]> {
    const { rows } = await this.db.query<WatchRow>(`SELECT ${WATCH_COLUMNS} FROM report_watches
      WHERE destination = $1 AND state = 'watching' AND next_check_at <= $2 ORDER BY next_check_at, upload_id COLLATE "C" LIMIT $3`, [destination, now, limit]);
    return rows.map(toWatch);
  }

  async watching(destination: string): Promise<ReportWatch[]> {
    const { rows } = await this.db.query<WatchRow>(`SELECT ${WATCH_COLUMNS} FROM report_watches
      WHERE destination = $1 AND state = 'watching' ORDER BY upload_id COLLATE "C"`, [destination]);
    return rows.map(toWatch);
  }

  async watchesOfStudy(studyInstanceUid: string): Promise<ReportWatch[]> {
    const { rows } = await this.db.query<WatchRow>(`SELECT ${WATCH_COLUMNS} FROM report_watches
      WHERE study_instance_uid = $1 AND state <> 'expired' ORDER BY upload_id COLLATE "C", destination COLLATE "C"`, [studyInstanceUid]);
    return rows.map(toWatch);
  }

  async watchesOfAccession(accessionNumber: string): Promise<ReportWatch[]> {
    const { rows } = await this.db.query<WatchRow>(`SELECT ${WATCH_COLUMNS_OF_W} FROM report_watches w
      JOIN uploads u ON u.id = w.upload_id WHERE u.accession_number = $1 AND w.state <> 'expired'
      ORDER BY w.upload_id COLLATE "C", w.destination COLLATE "C"`, [accessionNumber]);
    return rows.map(toWatch);
  }

  async updateWatch(uploadId: string, destination: string, update: { state: WatchState; nextCheckAt: string; intervalSeconds: number; knownInstances: number | null }): Promise<void> {
    await this.db.query(`UPDATE report_watches SET state = $1, next_check_at = $2, interval_seconds = $3, known_instances = $4
      WHERE upload_id = $5 AND destination = $6`, [update.state, update.nextCheckAt, update.intervalSeconds, update.knownInstances, uploadId, destination]);
  }

  async expireWatches(now: string): Promise<number> {
    const { rowCount } = await this.db.query(`UPDATE report_watches SET state = 'expired' WHERE state = 'watching' AND until < $1`, [now]);
    return rowCount ?? 0;
  }

  async record(report: NewReport): Promise<{ id: number; created: boolean }> {
    return this.db.atomic(async (db) => {
      // Held to COMMIT (REPORT_INSERT_LOCK says why); reports come a few a minute, so it costs nothing.
      await db.query('SELECT pg_advisory_xact_lock($1, $2)', REPORT_INSERT_LOCK);
      const { rows: [inserted] } = await db.query<{ id: number }>(`INSERT INTO reports (upload_id, destination, user_id, study_instance_uid,
          series_instance_uid, sop_instance_uid, kind, status, title, source, detected_at, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (upload_id, destination, sop_instance_uid) DO NOTHING RETURNING id`,
      [report.uploadId, report.destination, report.userId, report.studyInstanceUid, report.seriesInstanceUid, report.sopInstanceUid, report.kind,
        report.status, report.title, report.source, report.detectedAt, report.content]);
      if (inserted) return { id: inserted.id, created: true };
      // After the lock, a new statement sees the report a relay committed first.
      const { rows: [kept] } = await db.query<{ id: number }>('SELECT id FROM reports WHERE upload_id = $1 AND destination = $2 AND sop_instance_uid = $3',
        [report.uploadId, report.destination, report.sopInstanceUid]);
      if (!kept) throw new Error('a report neither inserted nor found');
      return { id: kept.id, created: false };
    });
  }

  async knownDocuments(watch: Pick<ReportWatch, 'uploadId' | 'destination' | 'studyInstanceUid'>): Promise<Set<string>> {
    const { rows } = await this.db.query<{ uid: string }>(`SELECT sop_instance_uid AS uid FROM reports WHERE upload_id = $1 AND destination = $2
      UNION SELECT sop_instance_uid FROM report_non_reports WHERE destination = $2 AND study_instance_uid = $3
      UNION SELECT sop_instance_uid FROM upload_instances WHERE upload_id = $1`,
    [watch.uploadId, watch.destination, watch.studyInstanceUid]);
    return new Set(rows.map((r) => r.uid));
  }

  async rememberNotReport(destination: string, studyInstanceUid: string, sopInstanceUid: string, now: string): Promise<void> {
    await this.db.query(`INSERT INTO report_non_reports (destination, study_instance_uid, sop_instance_uid, seen_at) VALUES ($1, $2, $3, $4)
      ON CONFLICT (destination, sop_instance_uid) DO NOTHING`, [destination, studyInstanceUid, sopInstanceUid, now]);
  }

  async ofUpload(uploadId: string): Promise<ReportRecord[]> {
    const { rows } = await this.db.query<ReportRow>(`SELECT ${REPORT_COLUMNS} FROM reports WHERE upload_id = $1 ORDER BY id`, [uploadId]);
    return rows.map(toReport);
  }

  async ofUser(userId: number, since: string | undefined, limit: number): Promise<ReportRecord[]> {
    const { rows } = await this.db.query<ReportRow>(`SELECT ${REPORT_COLUMNS} FROM reports
      WHERE user_id = $1 AND ($2::timestamptz IS NULL OR detected_at > $2) ORDER BY id DESC LIMIT $3`, [userId, since ?? null, limit]);
    return rows.map(toReport);
  }

  async ofUserAfter(userId: number, afterId: number, limit: number): Promise<ReportRecord[]> {
    const { rows } = await this.db.query<ReportRow>(`SELECT ${REPORT_COLUMNS} FROM reports WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3`, [userId, afterId, limit]);
    return rows.map(toReport);
  }

  async find(id: number): Promise<ReportRecord | undefined> {
    const { rows } = await this.db.query<ReportRow>(`SELECT ${REPORT_COLUMNS} FROM reports WHERE id = $1`, [id]);
    return rows[0] && toReport(rows[0]);
  }

  async content(id: number): Promise<Buffer | undefined> {
    const { rows } = await this.db.query<{ content: Buffer | null }>('SELECT content FROM reports WHERE id = $1', [id]);
    return rows[0]?.content ?? undefined;
  }

  async dropContentBefore(before: string): Promise<number> {
    const { rowCount } = await this.db.query('UPDATE reports SET content = NULL WHERE content IS NOT NULL AND detected_at < $1', [before]);
    return rowCount ?? 0;
  }

  async cursor(destination: string): Promise<number | undefined> {
    const { rows } = await this.db.query<{ cursor: number }>('SELECT cursor FROM report_cursors WHERE destination = $1', [destination]);
    return rows[0]?.cursor;
  }

  async setCursor(destination: string, cursor: number, now: string): Promise<void> {
    await this.db.query(`INSERT INTO report_cursors (destination, cursor, updated_at) VALUES ($1, $2, $3)
      ON CONFLICT (destination) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`, [destination, cursor, now]);
  }
}
