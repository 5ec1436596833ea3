// The engine's side of the queue actions on one job (pause, resume, retry, cancel): what each does to the job and on the relay.
import type { InitUploadResponse } from '../../../../server/src/protocol/upload-protocol.js';
import { isBackingOff, JobFailed } from './job-errors.js';
import type { RelayClient } from './relay-client.js';
import type { UploadInitiator } from './upload-initiator.js';
import type { UploadJobsRepository } from './upload-jobs-repository.js';

export interface JobControlsOptions {
  jobs: Pick<UploadJobsRepository, 'find' | 'setState' | 'studyFiles'>;
  client: Pick<RelayClient, 'retry' | 'cancel'>;
  initiator: Pick<UploadInitiator, 'init'>;
  /** Ends a job's back-off wait, if it is waiting one (a retry asked for). */
  wakeBackoff: (jobId: number) => void;
}

export class JobControls {
  constructor(private readonly options: JobControlsOptions) {}

  /** Holds a job: it is skipped until resumed (a study still arriving, a link to keep free). */
  pause(jobId: number): boolean {
    const job = this.options.jobs.find(jobId);
    if (!job || !['queued', 'uploading', 'failed'].includes(job.state)) return false;
    this.options.jobs.setState(jobId, 'paused');
    return true;
  }

  resume(jobId: number): boolean {
    const job = this.options.jobs.find(jobId);
    if (job?.state !== 'paused') return false;
    this.options.jobs.setState(jobId, 'queued', { error: null });
    return true;
  }

  /** As UploadEngine.retry. */
  async retry(jobId: number): Promise<boolean> {
    const { jobs, client, initiator } = this.options;
    const job = jobs.find(jobId);
    if (job && isBackingOff(job)) {
      // Waiting before its next attempt: it goes now, its back-off starting over.
      jobs.setState(jobId, job.state, { error: null });
      this.options.wakeBackoff(jobId);
      return true;
    }
    if (job?.state !== 'failed' && job?.state !== 'cancelled') return false;
    if (job.relayUploadId && job.errorCode === 'PACS_REJECTED') {
      let init: InitUploadResponse | undefined;
      try {
        init = await initiator.init(job, jobs.studyFiles(job.studyInstanceUid));
      } catch (error) {
        // Refused for good (the account, the catalog): running it again records that on the job.
        if (!(error instanceof JobFailed)) throw error;
      }
      if (init && init.uploadId === job.relayUploadId && init.status.state === 'accepted') {
        await client.retry(init.uploadId, init.uploadToken);
        jobs.setState(jobId, 'forwarding', { error: null });
        return true;
      }
    }
    jobs.setState(jobId, 'queued', { error: null });
    return true;
  }

  /** As UploadEngine.cancel. */
  async cancel(jobId: number): Promise<boolean> {
    const { jobs, client, initiator } = this.options;
    const job = jobs.find(jobId);
    if (!job || !['queued', 'uploading', 'paused', 'failed'].includes(job.state)) return false;
    if (job.relayUploadId) {
      const init = await initiator.init(job, jobs.studyFiles(job.studyInstanceUid));
      if (init.status.state === 'accepted') return false;
      await client.cancel(init.uploadId, init.uploadToken);
    }
    jobs.setState(jobId, 'cancelled');
    return true;
  }
}
