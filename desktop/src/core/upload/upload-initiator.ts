// Opens a job's upload on the relay (or finds it again): POST /upload/init with a fresh token, a refusal for good as JobFailed.
import type { InitUploadResponse } from '../../../../server/src/protocol/upload-protocol.js';
import { JobFailed } from './job-errors.js';
import { relayFailureCode, RelayRequestError, type RelayClient } from './relay-client.js';
import type { CatalogFile, UploadJob } from './upload-jobs-repository.js';

export interface UploadInitiatorOptions {
  client: Pick<RelayClient, 'initUpload'>;
  /** A valid access token (the session refreshes it as needed). */
  accessToken: () => Promise<string>;
  sourceWorkstation?: string;
}

export class UploadInitiator {
  constructor(private readonly options: UploadInitiatorOptions) {}

  /**
   * Inits the job's upload: a new one, or the one the relay still holds of this study (which it
   * resumes, answering what it is missing). A sign-in that cannot be refreshed or a refusal no
   * retry can change throws JobFailed; no answer, or a transient one, throws as it came.
   */
  async init(job: UploadJob, files: CatalogFile[]): Promise<InitUploadResponse> {
    let accessToken: string;
    try {
      accessToken = await this.options.accessToken();
    } catch (error) {
      // The relay refused to refresh the sign-in (ended, expired, its refresh token seen twice after
      // an answer lost on a lossy link): no retry brings it back, signing in again does.
      if (error instanceof RelayRequestError && error.status === 401) throw new JobFailed(error.code ?? 'AUTH_TOKEN_INVALID', error.message);
      throw error;
    }
    try {
      return await this.options.client.initUpload(accessToken, {
        study: {
          studyInstanceUid: job.studyInstanceUid,
          serviceLevel: job.serviceLevel,
          ...(files[0]?.modality ? { modality: files[0].modality } : {}),
          ...(job.clinicalHistory ? { clinicalHistory: job.clinicalHistory } : {}),
          ...(job.routingTag ? { facility: job.routingTag } : {}),
          ...(this.options.sourceWorkstation ? { sourceWorkstation: this.options.sourceWorkstation } : {}),
        },
        instances: files.map((f) => ({ sopInstanceUid: f.sopInstanceUid, sopClassUid: f.sopClassUid, size: f.size, sha256: f.sha256 })),
      });
    } catch (error) {
      if (error instanceof RelayRequestError && !error.transient && error.status !== 401) {
        throw new JobFailed(relayFailureCode(error.code, error.status!), error.message);
      }
      throw error;
    }
  }
}
