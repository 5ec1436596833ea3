import type { HistoryFilter, HistoryItem, JobState, QueueItem, ServiceLevel } from '../common/ipc-contract.js';
import type { CatalogDatabase } from '../core/catalog/catalog-database.js';
import type { JobErrorCode } from '../core/upload/upload-engine.js';
import { explainJobError, type InstanceOutcome } from './coded-failure.js';
import { formatDicomDate, formatPersonName } from '../common/dicom-display.js';
import type { TransferSpeed } from './transfer-speed.js';

/** Finished jobs stay in the queue this long, so "it arrived" is seen there before it moves to history. */
const QUEUE_KEEPS_FINISHED_MS = 24 * 3_600_000;
const QUEUE_LIMIT = 2_000;
const HISTORY_LIMIT = 5_000;
/** Export is every matching row: a year of a busy department is well under this. */
const EXPORT_LIMIT = 1_000_000;

interface JobViewRow {
  id: number;
  study_instance_uid: string;
  service_level: ServiceLevel;
  state: JobState;
  /** Written by the upload engine only (JobFailed, countAttempt, holds): one of its codes. */
  error_code: JobErrorCode | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  patient_name: string | null;
  patient_id: string | null;
  study_date: string | null;
  description: string | null;
  instance_count: number;
  total_bytes: number;
  recorded_bytes: number;
  file_header_added: number;
  report_id: number | null;
  report_status: 'preliminary' | 'final' | 'amended' | null;
  report_kind: 'sr' | 'pdf' | 'cda' | 'hl7' | null;
  report_title: string | null;
  report_detected_at: string | null;
  report_content_available: number | null;
}

/** A job with its study's patient, description and size, in one statement. */
const SELECT_JOBS = `SELECT j.id, j.study_instance_uid, j.service_level, j.state, j.error_code, j.last_error, j.created_at, j.updated_at, j.finished_at,
    p.name AS patient_name, p.patient_id, s.study_date, s.description,
    COALESCE(sz.instance_count, 0) AS instance_count, COALESCE(sz.total_bytes, 0) AS total_bytes, COALESCE(sz.file_header_added, 0) AS file_header_added,
    COALESCE((SELECT SUM(bytes_sent) FROM upload_job_instances WHERE job_id = j.id), 0) AS recorded_bytes,
    r.report_id, r.status AS report_status, r.kind AS report_kind, r.title AS report_title, r.detected_at AS report_detected_at,
    r.content_available AS report_content_available
  FROM upload_jobs j
  -- The newest report the relay found for the job's upload (core/reports/report-follower.ts).
  LEFT JOIN study_reports r ON r.relay_upload_id = j.relay_upload_id AND r.report_id = (SELECT MAX(report_id) FROM study_reports WHERE relay_upload_id = j.relay_upload_id)
  LEFT JOIN studies s ON s.study_instance_uid = j.study_instance_uid
  LEFT JOIN patients p ON p.id = s.patient_row_id
  LEFT JOIN (SELECT se.study_row_id, COUNT(i.id) AS instance_count, SUM(i.size) AS total_bytes, SUM(i.file_meta_added) AS file_header_added
             FROM series se JOIN instances i ON i.series_row_id = se.id GROUP BY se.study_row_id) sz ON sz.study_row_id = s.id`;

/**
 * The queue and history screens' read side of the catalog: jobs joined to their studies, with
 * patient and description for the person looking, sizes from the catalog, and failures explained.
 */
export class JobViews {
  private readonly instanceOutcomes;

  constructor(private readonly db: CatalogDatabase, private readonly speed: TransferSpeed, private readonly now: () => Date = () => new Date()) {
    this.instanceOutcomes = db.prepare('SELECT state, reason FROM upload_job_instances WHERE job_id = ?');
  }

  /**
   * What is being sent, waits, needs attention, or arrived in the last day: sending first (STAT
   * before routine, oldest first, the order they go in), then held and failed, then finished.
   */
  queue(): QueueItem[] {
    const since = new Date(this.now().getTime() - QUEUE_KEEPS_FINISHED_MS).toISOString();
    const rows = this.db.prepare(`${SELECT_JOBS}
      WHERE j.state IN ('queued', 'uploading', 'completing', 'forwarding', 'paused', 'failed')
         OR (j.state IN ('delivered', 'confirmed', 'cancelled') AND j.finished_at >= ?)
      ORDER BY CASE WHEN j.state IN ('uploading', 'completing', 'forwarding') THEN 0 WHEN j.state = 'queued' THEN 1 WHEN j.state IN ('failed', 'paused') THEN 2 ELSE 3 END,
        CASE WHEN j.state IN ('delivered', 'confirmed', 'cancelled') THEN 0 WHEN j.service_level = 'STAT' THEN 0 ELSE 1 END,
        CASE WHEN j.state IN ('delivered', 'confirmed', 'cancelled') THEN -j.id ELSE j.id END
      LIMIT ${QUEUE_LIMIT}`).all(since) as JobViewRow[];
    return rows.map((row) => this.queueItem(row));
  }

  /** One job as the queue shows it, or undefined when there is no such job. */
  queueItemOf(jobId: number): QueueItem | undefined {
    const row = this.db.prepare(`${SELECT_JOBS} WHERE j.id = ?`).get(jobId) as JobViewRow | undefined;
    return row && this.queueItem(row);
  }

  history(filter: HistoryFilter, limit = HISTORY_LIMIT): HistoryItem[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const states = filter.state === undefined || filter.state === 'all' ? ['delivered', 'confirmed', 'failed'] : [filter.state];
    where.push(`j.state IN (${states.map(() => '?').join(', ')})`);
    params.push(...states);
    if (filter.serviceLevel) {
      where.push('j.service_level = ?');
      params.push(filter.serviceLevel);
    }
    if (filter.report === 'awaiting') where.push(`r.report_id IS NULL AND j.state IN ('delivered', 'confirmed')`);
    else if (filter.report === 'any') where.push('r.report_id IS NOT NULL');
    else if (filter.report) {
      where.push('r.status = ?');
      params.push(filter.report);
    }
    // Dates are the workstation's calendar days: "today" is the radiographer's today, not UTC's.
    if (filter.from) {
      where.push('j.finished_at >= ?');
      params.push(localDayStart(filter.from, 0));
    }
    if (filter.to) {
      where.push('j.finished_at < ?');
      params.push(localDayStart(filter.to, 1));
    }
    // Every word must appear in the patient's name or ID, the description or the accession number.
    for (const word of (filter.text ?? '').split(/[\s^,]+/).filter(Boolean).slice(0, 8)) {
      where.push(`(p.name LIKE ? ESCAPE '\\' OR p.patient_id LIKE ? ESCAPE '\\' OR s.description LIKE ? ESCAPE '\\' OR s.accession_number LIKE ? ESCAPE '\\')`);
      const like = `%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      params.push(like, like, like, like);
    }
    const rows = this.db.prepare(`${SELECT_JOBS} WHERE ${where.join(' AND ')} ORDER BY COALESCE(j.finished_at, j.updated_at) DESC, j.id DESC LIMIT ${Math.max(1, Math.floor(limit))}`)
      .all(...params) as JobViewRow[];
    return rows.map((row) => {
      const error = this.error(row);
      return {
        jobId: row.id, studyInstanceUid: row.study_instance_uid,
        patientName: formatPersonName(row.patient_name ?? ''), patientId: row.patient_id ?? '',
        studyDate: formatDicomDate(row.study_date ?? ''), description: row.description ?? '',
        serviceLevel: row.service_level, state: row.state, instanceCount: row.instance_count, totalBytes: row.total_bytes,
        ...fileHeaderNote(row),
        finishedAt: row.finished_at ?? row.updated_at,
        ...(error ? { error } : {}),
        ...(row.report_id !== null ? {
          report: {
            reportId: row.report_id, status: row.report_status!, kind: row.report_kind!, detectedAt: row.report_detected_at!,
            contentAvailable: row.report_content_available === 1, ...(row.report_title ? { title: row.report_title } : {}),
          },
        } : {}),
      };
    });
  }

  /** The history as CSV (RFC 4180): every row the filter matches, not only the first screenful. */
  exportCsv(filter: HistoryFilter): { csv: string; rows: number } {
    const items = this.history(filter, EXPORT_LIMIT);
    const header = ['Finished', 'Patient name', 'Patient ID', 'Study date', 'Description', 'Service level', 'State', 'Images', 'Size (bytes)', 'Job', 'Study Instance UID', 'Problem', 'Report'];
    const lines = [header, ...items.map((item) => [
      item.finishedAt, item.patientName, item.patientId, item.studyDate, item.description, item.serviceLevel, item.state,
      item.instanceCount, item.totalBytes, item.jobId, item.studyInstanceUid, item.error?.message ?? '', item.report?.status ?? '',
    ])].map((cells) => cells.map(csvField).join(','));
    // RFC 4180 §2: records end with CRLF, the last one too.
    return { csv: `${lines.join('\r\n')}\r\n`, rows: items.length };
  }

  private queueItem(row: JobViewRow): QueueItem {
    const transfer = this.speed.get(row.id);
    const done = row.state === 'delivered' || row.state === 'confirmed' || row.state === 'forwarding' || row.state === 'completing';
    const bytesSent = done ? row.total_bytes : Math.min(row.total_bytes, transfer?.bytesSent ?? row.recorded_bytes);
    const sending = row.state === 'uploading';
    const error = this.error(row);
    return {
      jobId: row.id, studyInstanceUid: row.study_instance_uid,
      patientName: formatPersonName(row.patient_name ?? ''), description: row.description ?? '',
      serviceLevel: row.service_level, state: row.state,
      bytesSent, totalBytes: row.total_bytes,
      bytesPerSecond: sending ? transfer?.bytesPerSecond ?? 0 : 0,
      etaSeconds: sending ? transfer?.etaSeconds ?? null : null,
      instanceCount: row.instance_count,
      ...fileHeaderNote(row),
      ...(error ? { error } : {}),
      createdAt: row.created_at, updatedAt: row.updated_at,
    };
  }

  /**
   * The reason shown with a job: for a failed one why and what to do; for one waiting after failed
   * attempts why it waits. Delivered, cancelled and paused jobs show none.
   */
  private error(row: JobViewRow): { code: string; message: string } | undefined {
    // While it moves, an old attempt's failure is history: only a failed or waiting job says why.
    if (row.state !== 'failed' && row.state !== 'queued') return undefined;
    const instances = row.state === 'failed' ? this.instanceOutcomes.all(row.id) as InstanceOutcome[] : [];
    return explainJobError(row.error_code, row.last_error, instances);
  }
}

/** "DICOM file header added" to some of the study's images: said only when it happened. */
function fileHeaderNote(row: JobViewRow): { fileHeaderAdded?: number } {
  return row.file_header_added > 0 ? { fileHeaderAdded: row.file_header_added } : {};
}

/** Local midnight of an ISO date plus `days`, as the UTC instant the catalog stores. */
function localDayStart(isoDate: string, days: number): string {
  const [year, month, day] = isoDate.split('-').map(Number) as [number, number, number];
  return new Date(year, month - 1, day + days).toISOString();
}

/**
 * One CSV field (RFC 4180 §2): quoted when it holds a comma, quote, CR or LF, quotes doubled. Text
 * that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading apostrophe
 * (OWASP "CSV injection"): a patient name must never become a formula on an IT desk.
 */
export function csvField(value: string | number): string {
  if (typeof value === 'number') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
