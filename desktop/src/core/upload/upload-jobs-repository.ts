import type { CatalogDatabase } from '../catalog/catalog-database.js';

export type JobState = 'queued' | 'uploading' | 'completing' | 'forwarding' | 'delivered' | 'confirmed' | 'failed' | 'paused' | 'cancelled';
export const ACTIVE_JOB_STATES: readonly JobState[] = ['queued', 'uploading', 'completing', 'forwarding'];

export interface UploadJob {
  id: number;
  studyInstanceUid: string;
  serviceLevel: 'STAT' | 'ROUTINE';
  clinicalHistory: string | null;
  /** Sent as the relay's study.facility, which routing rules may match (a watched folder's default). */
  routingTag: string | null;
  state: JobState;
  relayUploadId: string | null;
  attempts: number;
  lastError: string | null;
  errorCode: string | null;
}

export interface JobInstance {
  sopInstanceUid: string;
  bytesSent: number;
  state: string;
  reason: string | null;
}

export interface CatalogFile {
  sopInstanceUid: string;
  sopClassUid: string;
  size: number;
  sha256: string;
  path: string;
  modality: string;
}

/** The durable upload queue in the catalog: one job per study sent, per-instance progress. */
export class UploadJobsRepository {
  // Prepared once: runs for every instance on every delivery poll.
  private readonly progressStatement;

  constructor(private readonly db: CatalogDatabase, private readonly now: () => Date = () => new Date()) {
    this.progressStatement = db.prepare(`INSERT INTO upload_job_instances (job_id, sop_instance_uid, bytes_sent, state, reason) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (job_id, sop_instance_uid) DO UPDATE SET bytes_sent = excluded.bytes_sent, state = excluded.state, reason = excluded.reason`);
  }

  /**
   * Queues a study, or answers the job already sending it. Asked for STAT, a job not yet accepted
   * by the relay (queued, uploading, paused) becomes STAT: it goes next, or at once if it was
   * sending; nothing is ever made routine again. A clinical history given now is kept when the job
   * had none (a routine send, then the same study sent STAT "with the history this time").
   */
  enqueue(studyInstanceUid: string, serviceLevel: 'STAT' | 'ROUTINE', clinicalHistory?: string, routingTag?: string): number {
    const active = this.db.prepare(`SELECT id, state, service_level, clinical_history FROM upload_jobs
      WHERE study_instance_uid = ? AND state IN ('queued', 'uploading', 'completing', 'forwarding', 'paused')`)
      .get(studyInstanceUid) as { id: number; state: JobState; service_level: 'STAT' | 'ROUTINE'; clinical_history: string | null } | undefined;
    if (active) {
      // Once the relay has the study, what it was sent as is what the relay forwards: nothing to change here.
      if (active.state === 'queued' || active.state === 'uploading' || active.state === 'paused') {
        const upgrade = serviceLevel === 'STAT' && active.service_level !== 'STAT';
        const history = clinicalHistory && !active.clinical_history ? clinicalHistory : null;
        if (upgrade || history) {
          this.db.prepare(`UPDATE upload_jobs SET service_level = CASE WHEN ? THEN 'STAT' ELSE service_level END,
              clinical_history = COALESCE(clinical_history, ?), updated_at = ? WHERE id = ?`)
            .run(upgrade ? 1 : 0, history, this.now().toISOString(), active.id);
        }
      }
      return active.id;
    }
    const now = this.now().toISOString();
    return Number(this.db.prepare(`INSERT INTO upload_jobs (study_instance_uid, service_level, clinical_history, routing_tag, state, created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?)`)
      .run(studyInstanceUid, serviceLevel, clinicalHistory ?? null, routingTag ?? null, now, now).lastInsertRowid);
  }

  find(id: number): UploadJob | undefined {
    const row = this.db.prepare('SELECT * FROM upload_jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row && toJob(row);
  }

  /** Jobs still to send, STAT first, oldest first. */
  pending(): UploadJob[] {
    return (this.db.prepare(`SELECT * FROM upload_jobs WHERE state IN ('queued', 'uploading', 'completing', 'forwarding')
      ORDER BY CASE service_level WHEN 'STAT' THEN 0 ELSE 1 END, id`).all() as JobRow[]).map(toJob);
  }

  all(): UploadJob[] {
    return (this.db.prepare('SELECT * FROM upload_jobs ORDER BY id DESC').all() as JobRow[]).map(toJob);
  }

  setState(id: number, state: JobState, extra: { relayUploadId?: string; error?: { code: string; message: string } | null } = {}): void {
    const now = this.now().toISOString();
    const final = state === 'delivered' || state === 'confirmed' || state === 'failed' || state === 'cancelled';
    this.db.prepare(`UPDATE upload_jobs SET state = ?, updated_at = ?, relay_upload_id = COALESCE(?, relay_upload_id),
        last_error = CASE WHEN ? THEN ? ELSE last_error END, error_code = CASE WHEN ? THEN ? ELSE error_code END,
        finished_at = CASE WHEN ? THEN ? ELSE finished_at END WHERE id = ?`)
      .run(state, now, extra.relayUploadId ?? null, extra.error !== undefined ? 1 : 0, extra.error?.message ?? null, extra.error !== undefined ? 1 : 0, extra.error?.code ?? null,
        final ? 1 : 0, final ? now : null, id);
  }

  countAttempt(id: number, error: { code: string; message: string }): void {
    this.db.prepare('UPDATE upload_jobs SET attempts = attempts + 1, last_error = ?, error_code = ?, updated_at = ? WHERE id = ?')
      .run(error.message, error.code, this.now().toISOString(), id);
  }

  /** The catalog files of a study, in instance order. */
  studyFiles(studyInstanceUid: string): CatalogFile[] {
    return this.db.prepare(`SELECT i.sop_instance_uid AS sopInstanceUid, i.sop_class_uid AS sopClassUid, i.size, i.sha256, i.path, se.modality
      FROM instances i JOIN series se ON se.id = i.series_row_id JOIN studies st ON st.id = se.study_row_id
      WHERE st.study_instance_uid = ? ORDER BY se.series_number, i.instance_number, i.id`).all(studyInstanceUid) as CatalogFile[];
  }

  setInstanceProgress(jobId: number, sopInstanceUid: string, bytesSent: number, state: string, reason: string | null = null): void {
    this.progressStatement.run(jobId, sopInstanceUid, bytesSent, state, reason);
  }

  instances(jobId: number): JobInstance[] {
    return this.db.prepare('SELECT sop_instance_uid AS sopInstanceUid, bytes_sent AS bytesSent, state, reason FROM upload_job_instances WHERE job_id = ? ORDER BY rowid')
      .all(jobId) as JobInstance[];
  }
}

interface JobRow {
  id: number; study_instance_uid: string; service_level: 'STAT' | 'ROUTINE'; clinical_history: string | null; routing_tag: string | null; state: JobState;
  relay_upload_id: string | null; attempts: number; last_error: string | null; error_code: string | null;
}

function toJob(row: JobRow): UploadJob {
  return {
    id: row.id, studyInstanceUid: row.study_instance_uid, serviceLevel: row.service_level, clinicalHistory: row.clinical_history, routingTag: row.routing_tag,
    state: row.state, relayUploadId: row.relay_upload_id, attempts: row.attempts, lastError: row.last_error, errorCode: row.error_code,
  };
}
