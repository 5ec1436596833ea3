import type { CatalogDatabase } from '../catalog/catalog-database.js';
import { isBackingOff, type UploadEngine } from './upload-engine.js';
import type { JobState, UploadJob } from './upload-jobs-repository.js';

/**
 * The queue actions a person takes, written once for the desktop app and the `relaypacs` CLI so that
 * "Retry all", "Pause all" and the rest mean the same in both.
 */
export type QueueAction = 'pause' | 'resume' | 'cancel' | 'retry';

/** The jobs an action on "all" applies to, by state. Retry all is decided by {@link isRetryAllTarget}. */
const ALL_STATES: Record<Exclude<QueueAction, 'retry'>, readonly JobState[]> = {
  pause: ['queued', 'uploading', 'failed'],
  resume: ['paused'],
  cancel: ['queued', 'uploading', 'paused', 'failed'],
};

/**
 * What "Retry all" retries: every failed job, and every job waiting out a back-off after a failed attempt
 * (it goes now). It never touches a study delivered or confirmed (done), cancelled (someone chose not to
 * send it: sent again only when asked for by itself), or paused (someone is holding it: resume is the
 * action for that), nor one the relay accepted and is delivering, nor one held for its window or for the
 * relay (retrying changes nothing there). A person pressing "Retry all" means "what went wrong, try it again".
 */
export function isRetryAllTarget(job: UploadJob): boolean {
  return job.state === 'failed' || isBackingOff(job);
}

/** The ids an action on "all" applies to, newest first (the queue's order). */
export function jobsForAll(engine: UploadEngine, action: QueueAction): number[] {
  const applies = action === 'retry' ? isRetryAllTarget : (job: UploadJob) => ALL_STATES[action].includes(job.state);
  return engine.jobs.all().filter(applies).map((job) => job.id);
}

/**
 * Retries one job, answering whether it goes again. The engine decides how: a study a PACS refused after
 * the relay accepted it has its deliveries queued again on the relay and is followed; a job backing off goes
 * now; anything else failed or cancelled is sent again from what the relay holds.
 */
export async function retryJob(engine: UploadEngine, db: CatalogDatabase, jobId: number): Promise<boolean> {
  const job = engine.jobs.find(jobId);
  if (!job) return false;
  // A cancelled study sent again since has its own job: that one is the study's.
  if (job.state === 'cancelled' && db.prepare(`SELECT 1 FROM upload_jobs WHERE study_instance_uid = ? AND id <> ?
    AND state IN ('queued', 'uploading', 'completing', 'forwarding', 'paused', 'delivered', 'confirmed')`).get(job.studyInstanceUid, jobId)) return false;
  return engine.retry(jobId);
}

/**
 * Cancels a job the relay has not accepted (freeing what it holds there). A failed job is dismissed even
 * when the relay had accepted it: nothing of it is on its way any more.
 */
export async function cancelJob(engine: UploadEngine, jobId: number): Promise<boolean> {
  if (await engine.cancel(jobId)) return true;
  if (engine.jobs.find(jobId)?.state !== 'failed') return false;
  engine.jobs.setState(jobId, 'cancelled');
  return true;
}

/** Applies an action to one job, answering whether it changed. */
export function applyQueueAction(engine: UploadEngine, db: CatalogDatabase, action: QueueAction, jobId: number): Promise<boolean> {
  switch (action) {
    case 'pause': return Promise.resolve(engine.pause(jobId));
    case 'resume': return Promise.resolve(engine.resume(jobId));
    case 'cancel': return cancelJob(engine, jobId);
    case 'retry': return retryJob(engine, db, jobId);
  }
}

/**
 * Applies an action to every job it applies to, each on its own: one that throws (a relay not answering a
 * retry through it) leaves the others done. Answers the ids changed and the first error.
 */
export async function applyToAll(engine: UploadEngine, db: CatalogDatabase, action: QueueAction): Promise<{ changed: number[]; firstError?: unknown }> {
  const changed: number[] = [];
  let firstError: unknown;
  for (const id of jobsForAll(engine, action)) {
    try {
      if (await applyQueueAction(engine, db, action, id)) changed.push(id);
    } catch (error) {
      firstError ??= error;
    }
  }
  return firstError === undefined ? { changed } : { changed, firstError };
}
