// Jobs in every state a person can meet in the queue, written straight into an agent's catalog: the
// same queue for the desktop's and the CLI's "Retry all", which must retry the same ones.
import { join } from 'node:path';
import Database from 'better-sqlite3';

export interface PlantedJob { id: number; state: string; errorCode: string | null }

/** What "Retry all" must retry. */
export const RETRIED = ['failed', 'backing off', 'backing off mid-upload'] as const;
/** What it must leave exactly as it was. */
export const UNTOUCHED = ['delivered', 'confirmed', 'cancelled', 'paused after failing'] as const;

const PLANTED: Record<(typeof RETRIED)[number] | (typeof UNTOUCHED)[number], { state: string; attempts: number; error?: [string, string] }> = {
  'failed': { state: 'failed', attempts: 1, error: ['INVALID_DICOM', 'the relay refused the study'] },
  'backing off': { state: 'queued', attempts: 2, error: ['HTTP_503', 'the relay is busy'] },
  'backing off mid-upload': { state: 'uploading', attempts: 1, error: ['RELAY_UNREACHABLE', 'connection reset'] },
  'delivered': { state: 'delivered', attempts: 1 },
  'confirmed': { state: 'confirmed', attempts: 1 },
  'cancelled': { state: 'cancelled', attempts: 0 },
  'paused after failing': { state: 'paused', attempts: 1, error: ['HTTP_503', 'the relay is busy'] },
};

/** Plants one job per name (each its own made-up study, never in the catalog); answers their ids by name. */
export function plantJobs(agentDataDir: string, uidRoot: string): Record<keyof typeof PLANTED, number> {
  const db = new Database(join(agentDataDir, 'catalog.db'), { fileMustExist: true });
  try {
    const now = new Date().toISOString();
    const insert = db.prepare(`INSERT INTO upload_jobs (study_instance_uid, service_level, state, attempts, last_error, error_code, created_at, updated_at)
      VALUES (?, 'ROUTINE', ?, ?, ?, ?, ?, ?)`);
    return Object.fromEntries(Object.entries(PLANTED).map(([name, job], n) =>
      [name, Number(insert.run(`${uidRoot}.${n + 1}`, job.state, job.attempts, job.error?.[1] ?? null, job.error?.[0] ?? null, now, now).lastInsertRowid)])) as Record<keyof typeof PLANTED, number>;
  } finally {
    db.close();
  }
}

/** A planted job as it is now. */
export function jobNow(agentDataDir: string, id: number): PlantedJob {
  const db = new Database(join(agentDataDir, 'catalog.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT id, state, error_code AS errorCode FROM upload_jobs WHERE id = ?').get(id) as PlantedJob;
  } finally {
    db.close();
  }
}

/** Each untouched job as planted. */
export function expectedUntouched(): Record<(typeof UNTOUCHED)[number], { state: string; errorCode: string | null }> {
  return Object.fromEntries(UNTOUCHED.map((name) => [name, { state: PLANTED[name].state, errorCode: PLANTED[name].error?.[0] ?? null }])) as never;
}
