import { open } from 'node:fs/promises';
import type { InitUploadResponse, UploadStatus } from '../../../../server/src/protocol/upload-protocol.js';
import type { CatalogDatabase } from '../catalog/catalog-database.js';
import { backoffMs, sleep, sleepUnlessAborted, sleepUntilReady } from './backoff.js';
import type { ConnectivityMonitor } from './connectivity-monitor.js';
import { LinkTuning } from './link-tuning.js';
import { RangeQueue, type ByteRange } from './range-queue.js';
import type { UploadEventSource } from './relay-event-stream.js';
import { DEFAULT_CHUNK_STALL_MS, relayFailureCode, RelayRequestError, type RelayClient, type RelayFailureCode } from './relay-client.js';
import { SendingPolicy, type HoldReason, type SendingLimits } from './sending-policy.js';
import { StatFirstGate } from './stat-first-gate.js';
import { UploadJobsRepository, type CatalogFile, type UploadJob } from './upload-jobs-repository.js';
import { errnoCode, fileErrorReason } from '../file-error-reason.js';

const DEFAULT_MAX_BYTES_IN_FLIGHT = 32 * 1024 * 1024;

export interface UploadEngineOptions {
  db: CatalogDatabase;
  client: RelayClient;
  /** A valid access token (the session refreshes it as needed). */
  accessToken: () => Promise<string>;
  sourceWorkstation?: string;
  /** Chunks in flight at once on a sound link. */
  parallelChunks?: number;
  /** Most chunks in flight while connections keep being lost (a lossy link: LinkTuning). Default 16. */
  maxParallelChunks?: number;
  /**
   * Chunk bytes held in memory at once, across the chunks in flight: each chunk is cut to at most
   * this divided by the chunks in flight (never below the relay's minimum). The relay lets chunks
   * grow to 64 MiB, and four of those, read and sent, took the agent past 600 MB on a 1.2 GB
   * instance. Default 32 MiB.
   */
  maxBytesInFlight?: number;
  /** A chunk whose connection moves no byte for this long is sent again on a new one (StallWatchdog). Default 10 s. */
  chunkStallMs?: number;
  /** The same once connections have stalled on this link. Default 5 s. */
  lossyChunkStallMs?: number;
  /** Retries of a transient failure before the job is left queued for later (0 = forever). */
  maxAttempts?: number;
  /**
   * While waiting out a relay's 507 (low on space) or 503, its GET /readyz is asked this often, and
   * the job goes again as soon as it answers 200 (sleepUntilReady). Default 15 s.
   */
  readyPollMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /**
   * The relay's event stream (GET /events): delivery progress is fetched as soon as the relay
   * reports it. Without it, or while it is down, status is polled every `pollIntervalMs`.
   */
  events?: UploadEventSource;
  /** How often forwarding status is polled while waiting for delivery (without a connected event stream). */
  pollIntervalMs?: number;
  /** The safety-net poll while the event stream is connected (events trigger the status fetches). */
  connectedPollIntervalMs?: number;
  now?: () => Date;
  onProgress?: (progress: JobProgress) => void;
  /** The bandwidth cap and routine time windows, read before every job and chunk (AgentSettings.sending). Default: neither. */
  limits?: () => SendingLimits;
  /** Whether the relay is reachable: while it is not, jobs wait for it instead of spending attempts. */
  connectivity?: ConnectivityMonitor;
  /** Waiting for a time window; ends early when the signal aborts (tests pass a virtual clock's). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** A job waiting for its window looks at the settings (and for a pause) again this often; default 60 s. */
  windowRecheckMs?: number;
}

export interface JobProgress {
  jobId: number;
  state: string;
  bytesSent: number;
  totalBytes: number;
  /** Why the job waits instead of sending (outside its window, relay unreachable). */
  reason?: HoldReason;
}

export interface RunOptions {
  /** Follow the study until every PACS has it (default), or return once the relay accepted it. */
  waitForDelivery?: boolean;
  /** Wait for a closed routine window to open (until close()), rather than return the job held. */
  waitForWindow?: boolean;
}

/** What a job waiting for an unreachable relay reports. */
export const OFFLINE_REASON: HoldReason = { code: 'RELAY_UNREACHABLE', message: 'offline, waiting for the relay' };

/**
 * A job still to send whose last attempt failed, waiting out its back-off before the next one: it carries that
 * attempt's error. A job held for its window or for an unreachable relay carries a hold reason instead, and is
 * not backing off (retrying it would change nothing).
 */
export function isBackingOff(job: UploadJob): boolean {
  if (job.state !== 'queued' && job.state !== 'uploading') return false;
  if (job.errorCode === null || job.errorCode === 'WAITING_FOR_WINDOW') return false;
  return !(job.errorCode === OFFLINE_REASON.code && job.lastError === OFFLINE_REASON.message);
}

export interface JobOutcome {
  jobId: number;
  state: 'delivered' | 'confirmed' | 'failed' | 'queued' | 'forwarding' | 'paused' | 'cancelled';
  studyInstanceUid: string;
  uploadId: string | null;
  instances: { sopInstanceUid: string; state: string; reason?: string }[];
  error?: { code: string; message: string };
}

/**
 * What a job's error code can be: the relay's refusal (its wire code, else HTTP_nnn) or the engine's own.
 * The desktop's job view explains each (explainJobError), typed so that a misspelt code does not compile.
 */
export type JobErrorCode = RelayFailureCode | 'PACS_REJECTED' | 'FILE_UNREADABLE' | 'FILE_TRUNCATED' | 'INVALID_REQUEST'
  | 'RELAY_UNREACHABLE' | 'WAITING_FOR_WINDOW' | 'SESSION_EXPIRED' | 'INTERNAL';

/** A permanent failure of the whole job (e.g. nothing in the catalog, account not allowed). */
class JobFailed extends Error {
  constructor(readonly code: JobErrorCode, message: string) {
    super(message);
  }
}

/** Sending stopped between chunks because the job was paused or cancelled. */
class JobStopped extends Error {}

/** Sending stopped between chunks because the job may not send now (its window closed). */
class SendingHeld extends Error {
  constructor(readonly reason: HoldReason) {
    super(reason.message);
  }
}

/**
 * Sends queued studies to the relay and follows them until the PACS has them. Resumes from what
 * the relay reports (after a dropped connection, a restart or a kill -9 nothing is sent twice),
 * sends chunks in parallel with an adaptive size and a per-chunk stall timeout, retries transient
 * failures with exponential backoff and jitter, and reports permanent ones with the relay's reason.
 * Within the agent's settings (SendingPolicy): all chunks together under the bandwidth cap, routine
 * studies only inside their time windows; an unreachable relay is waited for, not retried against.
 */
export class UploadEngine {
  readonly jobs: UploadJobsRepository;
  private readonly policy: SendingPolicy;
  /** Jobs being run, so a job asked for twice (a watcher and a queue drain) is sent once. */
  private readonly running = new Map<number, Promise<JobOutcome>>();
  private readonly stopping = new AbortController();
  /** Per job waiting out a back-off: aborting it ends the wait (a retry asked for). */
  private readonly backoffWakers = new Map<number, AbortController>();
  /** The last progress reported per running job, repeated when the job is held. */
  private readonly lastReported = new Map<number, { bytesSent: number; totalBytes: number }>();
  /** Routine jobs run alongside a STAT one (the desktop's lanes, watched folders) yield it the link. */
  private readonly statFirst = new StatFirstGate();
  /** What sending has taught about the link to the relay (chunk size, connections, stall time), kept across attempts and jobs. */
  private link: { key: string; tuning: LinkTuning } | undefined;
  /** Per job being followed, what record() last wrote of each instance (by SOP Instance UID). */
  private readonly recorded = new Map<number, Map<string, string>>();

  constructor(private readonly options: UploadEngineOptions) {
    this.jobs = new UploadJobsRepository(options.db, options.now);
    this.policy = new SendingPolicy({
      ...(options.limits ? { limits: options.limits } : {}), ...(options.now ? { now: options.now } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}), ...(options.windowRecheckMs ? { recheckMs: options.windowRecheckMs } : {}),
    });
  }

  /** Whether the relay is reachable, when the engine was given a monitor: for status displays. */
  get connectivity(): ConnectivityMonitor | undefined {
    return this.options.connectivity;
  }

  /**
   * Stops waiting: jobs waiting for their window, for the relay or before a retry return as queued, keeping their
   * place, and later runs no longer wait. Sends in progress are not interrupted.
   */
  close(): void {
    this.stopping.abort();
  }

  enqueue(studyInstanceUid: string, serviceLevel: 'STAT' | 'ROUTINE', clinicalHistory?: string, routingTag?: string): number {
    return this.jobs.enqueue(studyInstanceUid, serviceLevel, clinicalHistory, routingTag);
  }

  /** Holds a job: it is skipped until resumed (a study still arriving, a link to keep free). */
  pause(jobId: number): boolean {
    const job = this.jobs.find(jobId);
    if (!job || !['queued', 'uploading', 'failed'].includes(job.state)) return false;
    this.jobs.setState(jobId, 'paused');
    return true;
  }

  resume(jobId: number): boolean {
    const job = this.jobs.find(jobId);
    if (job?.state !== 'paused') return false;
    this.jobs.setState(jobId, 'queued', { error: null });
    return true;
  }

  /**
   * Makes a failed (or cancelled) job go again, or one backing off go now, and answers whether it will. A study the relay
   * accepted but a PACS did not take (error PACS_REJECTED after delivery was followed) is not sent
   * again: the relay owns its delivery, so its failed deliveries are queued again there
   * (POST /upload/{id}/retry; init only finds the upload again for a token, sending nothing) and the
   * job is followed from 'forwarding'. Any other job is queued to run again from the start, which
   * resumes from what the relay holds. A relay that does not answer throws (RelayRequestError): the
   * job stays as it was, for a retry once it is back.
   */
  async retry(jobId: number): Promise<boolean> {
    const job = this.jobs.find(jobId);
    if (job && isBackingOff(job)) {
      // Waiting before its next attempt: it goes now, its back-off starting over.
      this.jobs.setState(jobId, job.state, { error: null });
      this.backoffWakers.get(jobId)?.abort();
      return true;
    }
    if (job?.state !== 'failed' && job?.state !== 'cancelled') return false;
    if (job.relayUploadId && job.errorCode === 'PACS_REJECTED') {
      let init: InitUploadResponse | undefined;
      try {
        init = await this.init(job, this.jobs.studyFiles(job.studyInstanceUid));
      } catch (error) {
        // Refused for good (the account, the catalog): running it again records that on the job.
        if (!(error instanceof JobFailed)) throw error;
      }
      if (init && init.uploadId === job.relayUploadId && init.status.state === 'accepted') {
        await this.options.client.retry(init.uploadId, init.uploadToken);
        this.jobs.setState(jobId, 'forwarding', { error: null });
        return true;
      }
    }
    this.jobs.setState(jobId, 'queued', { error: null });
    return true;
  }

  /**
   * Cancels a job the relay has not accepted yet, and frees what the relay holds of it. A study the
   * relay accepted is already on its way to the PACS and cannot be called back.
   */
  async cancel(jobId: number): Promise<boolean> {
    const job = this.jobs.find(jobId);
    if (!job || !['queued', 'uploading', 'paused', 'failed'].includes(job.state)) return false;
    if (job.relayUploadId) {
      const init = await this.init(job, this.jobs.studyFiles(job.studyInstanceUid));
      if (init.status.state === 'accepted') return false;
      await this.options.client.cancel(init.uploadId, init.uploadToken);
    }
    this.jobs.setState(jobId, 'cancelled');
    return true;
  }

  /**
   * Runs every pending job, STAT first, each until delivered or failed (or out of attempts), each
   * once: a routine job outside its window is held and returned as queued, or with `waitForWindow`
   * waited for (sleeping until the window opens, never polling the relay).
   */
  async runPending(options: RunOptions = {}): Promise<JobOutcome[]> {
    const outcomes: JobOutcome[] = [];
    for (let job = this.jobs.pending()[0]; job; job = this.jobs.pending().find((j) => !outcomes.some((o) => o.jobId === j.id))) {
      outcomes.push(await this.run(job.id, options));
    }
    return outcomes;
  }

  /**
   * Sends one job. With `waitForDelivery` (the default) it follows the study until every PACS has
   * it or refused it; without, it returns once the relay has accepted the study ('forwarding').
   *
   * A ROUTINE job outside its time window is held: queued with the reason WAITING_FOR_WINDOW,
   * sending nothing and spending no attempt; it returns so, or with `waitForWindow` waits for the
   * window. A window closing mid-upload lets the chunks in flight finish, then holds the job the same
   * way (resuming later sends only the rest). With a connectivity monitor, a relay that does not
   * answer is waited for (reason RELAY_UNREACHABLE) instead of spending attempts. A job already
   * running answers that run's outcome.
   */
  run(jobId: number, options: RunOptions = {}): Promise<JobOutcome> {
    let running = this.running.get(jobId);
    if (!running) {
      running = this.runOnce(jobId, options).finally(() => {
        this.running.delete(jobId);
        this.lastReported.delete(jobId);
      });
      this.running.set(jobId, running);
    }
    return running;
  }

  private async runOnce(jobId: number, options: RunOptions): Promise<JobOutcome> {
    const waitForDelivery = options.waitForDelivery ?? true;
    const maxAttempts = this.options.maxAttempts ?? 0;
    for (let attempt = 0; ;) {
      const job = this.jobs.find(jobId);
      if (!job) throw new Error(`no upload job ${jobId}`);
      // Looked at before every attempt: a job paused or cancelled while it waited stops here.
      if (job.state === 'paused' || job.state === 'cancelled') return this.outcome(jobId, job.state);
      // Only what is still to be sent waits for a window; a study the relay accepted is followed.
      const held = job.state === 'queued' || job.state === 'uploading' ? this.policy.holdReason(job.serviceLevel) : undefined;
      if (held) {
        this.hold(job, held, 'queued');
        if (!options.waitForWindow || this.stopping.signal.aborted) return this.outcome(jobId, 'queued', held);
        await this.policy.waitForWindow(this.stopping.signal);
        continue;
      }
      if (job.errorCode === 'WAITING_FOR_WINDOW' || (job.errorCode === OFFLINE_REASON.code && job.lastError === OFFLINE_REASON.message)) {
        this.jobs.setState(jobId, job.state, { error: null });
      }
      const sentBefore = this.lastReported.get(jobId)?.bytesSent ?? 0;
      try {
        return await this.attempt(job, waitForDelivery);
      } catch (caught) {
        if (caught instanceof SendingHeld || caught instanceof JobStopped) continue; // held, paused or cancelled: see the top of the loop
        if (await this.relayDown(caught)) {
          this.hold(job, OFFLINE_REASON, this.jobs.find(jobId)!.state);
          if (!(await this.options.connectivity!.waitForOnline(this.stopping.signal))) return this.outcome(jobId, 'queued', OFFLINE_REASON);
          continue;
        }
        let error = caught;
        // A refusal that no retry can change (415, 403, 413 on init...) ends the job with the relay's reason;
        // 401/404/409 are handled by re-initialising, so they retry.
        if (error instanceof RelayRequestError && !error.transient && error.status !== undefined && ![401, 404, 409].includes(error.status)) {
          error = new JobFailed(relayFailureCode(error.code, error.status), error.message);
        }
        if (error instanceof JobFailed) {
          this.jobs.setState(jobId, 'failed', { error: { code: error.code, message: error.message } });
          return this.outcome(jobId, 'failed', { code: error.code, message: error.message });
        }
        // A file system error's message holds its path, which can name a patient: its errno says enough.
        const message = errnoCode(error) !== undefined && !(error instanceof RelayRequestError) ? fileErrorReason(error)
          : error instanceof Error ? error.message : String(error);
        const code: JobErrorCode = error instanceof RelayRequestError ? (error.status ? relayFailureCode(error.code, error.status) : error.code ?? 'RELAY_UNREACHABLE') : 'INTERNAL';
        this.jobs.countAttempt(jobId, { code, message });
        if (maxAttempts > 0 && attempt + 1 >= maxAttempts) return this.outcome(jobId, 'queued', { code, message });
        const retryAfter = error instanceof RelayRequestError && error.retryAfterSeconds ? error.retryAfterSeconds * 1000 : 0;
        const waitMs = Math.max(retryAfter, backoffMs(attempt, this.options.backoffBaseMs ?? 500, this.options.backoffMaxMs ?? 30_000));
        // close() ends the wait too: the job keeps its place in the queue for the next engine. retry() ends it
        // early: someone asked for the job to go now.
        const waker = new AbortController();
        this.backoffWakers.set(jobId, waker);
        const signal = AbortSignal.any([this.stopping.signal, waker.signal]);
        try {
          if (error instanceof RelayRequestError && (error.status === 507 || error.status === 503)) {
          // Out of space or not ready: sooner than its Retry-After when the relay says it is ready.
          const client = this.options.client;
          // A job the relay has not admitted yet asks for its study's bytes: "ready" then means its
          // init would be admitted. One already admitted (refused a chunk) asks whether chunks fit.
          const last = this.lastReported.get(jobId);
          const admitted = this.jobs.find(jobId)?.relayUploadId != null;
          const remaining = last && !admitted ? last.totalBytes - last.bytesSent : undefined;
            await sleepUntilReady(waitMs, { isReady: () => client.isReady(remaining), pollMs: this.options.readyPollMs ?? 15_000, signal });
          } else {
            await sleepUnlessAborted(waitMs, signal);
          }
        } finally {
          this.backoffWakers.delete(jobId);
        }
        if (this.stopping.signal.aborted) return this.outcome(jobId, 'queued', { code, message });
        // An attempt that got bytes to the relay before it failed (a lossy link), or a retry asked for, starts the backoff over.
        attempt = waker.signal.aborted || (this.lastReported.get(jobId)?.bytesSent ?? 0) > sentBefore ? 0 : attempt + 1;
      }
    }
  }

  /**
   * A request that got no answer while the relay does not answer its liveness probe either: an
   * outage to wait out. One that failed while the relay answers (a reset on a flaky link, a stalled
   * chunk) is an ordinary failure that spends an attempt.
   */
  private async relayDown(error: unknown): Promise<boolean> {
    const connectivity = this.options.connectivity;
    if (!connectivity || !(error instanceof RelayRequestError) || error.status !== undefined) return false;
    return !(await connectivity.check());
  }

  /** Records and reports why a job waits; attempts are not counted. */
  private hold(job: UploadJob, reason: HoldReason, state: UploadJob['state']): void {
    this.jobs.setState(job.id, state, { error: reason });
    const last = this.lastReported.get(job.id) ?? { bytesSent: 0, totalBytes: this.jobs.studyFiles(job.studyInstanceUid).reduce((sum, f) => sum + f.size, 0) };
    this.report(job.id, state, last.bytesSent, last.totalBytes, reason);
  }

  private async attempt(job: UploadJob, waitForDelivery: boolean): Promise<JobOutcome> {
    const files = this.jobs.studyFiles(job.studyInstanceUid);
    if (files.length === 0) throw new JobFailed('INVALID_REQUEST', 'the study has no instances in the catalog');
    let init = await this.init(job, files);
    const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
    let status = init.status;
    if (status.state === 'accepted') {
      // Accepted already (a retried delivery, a lost answer to /complete): nothing to send, follow it.
      this.jobs.setState(job.id, 'forwarding', { relayUploadId: init.uploadId });
    } else {
      this.jobs.setState(job.id, 'uploading', { relayUploadId: init.uploadId });
      // A STAT study holds routine studies' chunks while it sends (StatFirstGate).
      const leaveGate = job.serviceLevel === 'STAT' ? this.statFirst.enter() : undefined;
      try {
        for (let round = 0; ; round++) {
          const missing = status.instances.flatMap((instance) => instance.state === 'receiving'
            ? instance.missing.map(([start, end]) => ({ index: instance.index, start, end })) : []);
          if (missing.length === 0) break;
          try {
            await this.sendRanges(job, init, files, missing, totalBytes - sumMissing(status), totalBytes);
          } catch (error) {
            // The upload token expired or the upload vanished on the relay: start over from init,
            // which resumes the same upload when it still exists.
            if (error instanceof RelayRequestError && (error.status === 401 || error.status === 404)) init = await this.init(job, files);
            else throw error;
          }
          status = await this.options.client.status(init.uploadId, init.uploadToken);
          this.report(job.id, 'uploading', totalBytes - sumMissing(status), totalBytes);
          if (round > 1000) throw new Error('the relay keeps reporting missing bytes');
        }
      } finally {
        leaveGate?.();
      }
      // Made STAT (or given a clinical history) while it was sending: init again tells the relay,
      // which takes it over for the upload it resumes.
      const now = this.jobs.find(job.id);
      if (now && (now.serviceLevel !== job.serviceLevel || now.clinicalHistory !== job.clinicalHistory)) init = await this.init(now, files);
      this.jobs.setState(job.id, 'completing');
      status = await this.options.client.complete(init.uploadId, init.uploadToken);
      this.jobs.setState(job.id, 'forwarding');
    }
    this.record(job.id, status);
    if (!waitForDelivery) {
      this.report(job.id, 'forwarding', totalBytes, totalBytes);
      return this.outcome(job.id, 'forwarding');
    }
    status = await this.followDelivery(job, init, status);
    const failed = status.deliveries.some((d) => d.state === 'failed') || status.instances.some((i) => i.state === 'rejected');
    const confirmed = status.deliveries.length > 0 && status.deliveries.every((d) => d.state === 'confirmed');
    const final = failed ? 'failed' : confirmed ? 'confirmed' : 'delivered';
    this.jobs.setState(job.id, final, failed ? { error: { code: 'PACS_REJECTED', message: 'some instances were not accepted; see each instance' } } : { error: null });
    this.report(job.id, final, totalBytes, totalBytes);
    return this.outcome(job.id, final);
  }

  private async init(job: UploadJob, files: CatalogFile[]): Promise<InitUploadResponse> {
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

  /** The link's tuning for the relay's chunk limits (a new one when they change). */
  private linkFor(chunk: InitUploadResponse['chunk']): LinkTuning {
    const key = `${chunk.minBytes}/${chunk.maxBytes}/${chunk.preferredBytes}`;
    if (this.link?.key !== key) {
      const stallMs = this.options.chunkStallMs ?? DEFAULT_CHUNK_STALL_MS;
      this.link = {
        key,
        tuning: new LinkTuning({
          parallel: this.options.parallelChunks ?? 4, maxParallel: this.options.maxParallelChunks ?? 16,
          stallMs, lossyStallMs: Math.min(stallMs, this.options.lossyChunkStallMs ?? 5_000),
        }, chunk),
      };
    }
    return this.link.tuning;
  }

  /**
   * Sends the missing ranges, several chunks at a time, each cut to the current chunk size
   * (LinkTuning). Each chunk is watched by progress (RelayClient.putChunk): one that keeps moving
   * is waited for however slow, one whose connection stopped moving is given up. A chunk whose
   * connection was lost (stalled, reset, never connected) goes back in the queue and is sent again
   * on a new connection while the others go on, and the link is tuned for loss (smaller chunks,
   * more connections). The attempt fails only when chunks keep being lost with none stored in
   * between and the relay does not answer its probe either (an outage: run() waits for it). A range
   * the relay is still receiving from a connection given up (409 UPLOAD_CHUNK_IN_PROGRESS) is tried
   * again after the relay's Retry-After (it drops such a connection once it sees the range asked
   * for again), waiting longer only when that keeps happening.
   */
  private async sendRanges(job: UploadJob, init: InitUploadResponse, files: CatalogFile[], missing: ByteRange[],
    alreadyHeld: number, totalBytes: number): Promise<void> {
    const link = this.linkFor(init.chunk);
    const queue = new RangeQueue(missing);
    let sent = alreadyHeld;
    let failure: unknown;
    let lostInARow = 0;
    let probe: Promise<boolean> | undefined;
    const inProgressAnswers = new Map<string, number>();
    /** Whether the relay answers its liveness probe (one probe at a time); without a monitor, no. */
    const relayAnswers = () => {
      const connectivity = this.options.connectivity;
      if (!connectivity) return Promise.resolve(false);
      probe ??= connectivity.check().finally(() => {
        probe = undefined;
      });
      return probe;
    };
    const workers: Promise<void>[] = [];
    let active = 0;
    const worker = async () => {
      active++;
      try {
        await send();
      } catch (error) {
        failure ??= error;
      } finally {
        active--;
      }
    };
    const send = async () => {
      while (failure === undefined) {
        // Read for every chunk: the job may have been paused, cancelled or made STAT meanwhile.
        const current = this.jobs.find(job.id);
        const serviceLevel = current?.serviceLevel ?? job.serviceLevel;
        // A STAT study is sending: a routine one starts no chunk until it is done, then goes on.
        if (serviceLevel === 'ROUTINE' && this.statFirst.closed) {
          await this.statFirst.clear();
          continue;
        }
        // The routine window closed: chunks in flight finish, no new one starts, the job is held.
        const held = this.policy.holdReason(serviceLevel);
        if (held) {
          failure ??= new SendingHeld(held);
          break;
        }
        // Paused or cancelled from the queue meanwhile: the same, and the top of run() returns it so.
        if (current?.state === 'paused' || current?.state === 'cancelled') {
          failure ??= new JobStopped();
          break;
        }
        const memoryCeiling = Math.max(init.chunk.minBytes, Math.floor((this.options.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT) / link.parallel));
        const range = queue.take(Math.min(link.sizer.current, memoryCeiling, this.policy.chunkCeiling(init.chunk.minBytes)), performance.now());
        if (!range) {
          // Nothing ready: done, or only ranges waiting for the relay to let go of them.
          const readyAt = queue.nextReadyAt(performance.now());
          if (readyAt === undefined) break;
          await sleep(Math.max(0, readyAt - performance.now()));
          continue;
        }
        const length = range.end - range.start;
        const file = files[range.index]!;
        // The bandwidth cap, shared by every worker; read from the settings for each chunk.
        await this.policy.pace(length);
        const bytes = await readRange(file.path, range.start, length);
        try {
          await this.options.client.putChunk(init.uploadId, init.uploadToken, range.index, range.start, bytes, { stallMs: link.stallMs });
          link.succeeded();
          lostInARow = 0;
          sent += length;
          this.report(job.id, 'uploading', sent, totalBytes);
        } catch (error) {
          if (!(error instanceof RelayRequestError)) throw error;
          if (error.code === 'UPLOAD_OFFSET_MISMATCH') continue; // already held; status will tell
          if (error.status === 413) {
            link.sizer.failed();
            queue.retryFirst(range);
            continue;
          }
          const key = `${range.index}:${range.start}`;
          if (error.code === 'UPLOAD_CHUNK_IN_PROGRESS') {
            // The relay drops a connection given up once it sees the range again (2 s of silence):
            // retry after Retry-After, waiting longer only when that keeps not being the case.
            const answers = (inProgressAnswers.get(key) ?? 0) + 1;
            inProgressAnswers.set(key, answers);
            queue.giveBack(range, performance.now() + Math.min(8, 2 ** Math.max(0, answers - 3)) * (error.retryAfterSeconds ?? 1) * 1000);
            continue;
          }
          if (error.status !== undefined) throw error;
          // No answer: the connection was lost. Send it again, on a new connection, with more beside it.
          inProgressAnswers.delete(key);
          link.connectionLost();
          queue.giveBack(range);
          if (++lostInARow >= Math.max(4, link.parallel)) {
            if (!(await relayAnswers())) throw error;
            lostInARow = 0;
          }
          // Workers that found nothing left to take have ended; the link may also take more now.
          while (active < link.parallel && queue.size > 0) workers.push(worker());
        }
      }
    };
    for (let i = 0; i < link.parallel; i++) workers.push(worker());
    // Workers are added while sending when the link turns out lossy.
    for (let i = 0; i < workers.length; i++) await workers[i];
    if (failure !== undefined) throw failure;
  }

  /**
   * Follows an accepted study until every instance is final. The status endpoint is the truth; the
   * relay's event stream only says when to ask: an event of this upload, or the stream coming up
   * (the relay does not replay what was missed while it was down), fetches the status at once.
   * While the stream is up a slow poll is the safety net; while it is down or absent, status is
   * polled every `pollIntervalMs` as without it.
   */
  private async followDelivery(job: UploadJob, init: InitUploadResponse, status: UploadStatus): Promise<UploadStatus> {
    const finished = (s: UploadStatus) => s.instances.every((i) => ['delivered', 'confirmed', 'failed', 'not-sent', 'unrouted'].includes(i.deliveryState));
    if (finished(status)) return status;
    const events = this.options.events;
    // Subscribe, then read: an event that came between /complete's answer and the subscription
    // went to no one, so an already open stream starts with a status fetch (a connecting one
    // fetches when it connects).
    let due = events?.connected ?? false;
    let wake: (() => void) | undefined;
    const unsubscribe = events?.subscribe(init.uploadId, (notice) => {
      if (notice.kind === 'event' || notice.connected) due = true;
      wake?.(); // also on a drop: the wait shortens to pollIntervalMs
    });
    try {
      while (!finished(status)) {
        const since = performance.now();
        while (!due) {
          const interval = events?.connected ? this.options.connectedPollIntervalMs ?? 15_000 : this.options.pollIntervalMs ?? 1000;
          const left = interval - (performance.now() - since);
          if (left <= 0) break;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, left);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
        }
        due = false;
        status = await this.options.client.status(init.uploadId, init.uploadToken);
        this.record(job.id, status);
      }
    } finally {
      unsubscribe?.();
    }
    return status;
  }

  /**
   * Writes what the relay says of each instance to the catalog, only where it changed since the last
   * status of this job: a study of thousands of instances is followed by many status reads, each
   * changing a few of them.
   */
  private record(jobId: number, status: UploadStatus): void {
    const known = this.recorded.get(jobId) ?? new Map<string, string>();
    this.recorded.set(jobId, known);
    this.options.db.transaction(() => {
      for (const instance of status.instances) {
        const reason = instance.rejection?.reason ?? instance.destinations.find((d) => d.reason)?.reason ?? null;
        const state = instance.state === 'rejected' ? 'rejected' : instance.deliveryState;
        const seen = `${instance.receivedBytes} ${state} ${reason ?? ''}`;
        if (known.get(instance.sopInstanceUid) === seen) continue;
        this.jobs.setInstanceProgress(jobId, instance.sopInstanceUid, instance.receivedBytes, state, reason);
        known.set(instance.sopInstanceUid, seen);
      }
    })();
  }

  private report(jobId: number, state: string, bytesSent: number, totalBytes: number, reason?: HoldReason): void {
    this.lastReported.set(jobId, { bytesSent, totalBytes });
    this.options.onProgress?.({ jobId, state, bytesSent, totalBytes, ...(reason ? { reason } : {}) });
  }

  private outcome(jobId: number, state: JobOutcome['state'], error?: { code: string; message: string }): JobOutcome {
    // The next run of this job (a retry) reads the catalog afresh.
    this.recorded.delete(jobId);
    const job = this.jobs.find(jobId)!;
    return {
      jobId, state, studyInstanceUid: job.studyInstanceUid, uploadId: job.relayUploadId,
      instances: this.jobs.instances(jobId).map((i) => ({ sopInstanceUid: i.sopInstanceUid, state: i.state, ...(i.reason ? { reason: i.reason } : {}) })),
      ...(error ? { error } : {}),
    };
  }
}

function sumMissing(status: UploadStatus): number {
  return status.instances.reduce((sum, i) => sum + i.missing.reduce((s, [a, b]) => s + (b - a), 0), 0);
}

/**
 * A file that changed or vanished since it was imported cannot be sent: that is final for the job. The
 * job's error names no path (it can name a patient, and the error is shown, printed and logged).
 */
async function readRange(path: string, start: number, length: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new JobFailed('FILE_UNREADABLE', `a file of the study can no longer be read: ${fileErrorReason(error)}; import the study again`);
  }
  try {
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(buffer, 0, length, start);
    if (bytesRead !== length) throw new JobFailed('FILE_TRUNCATED', 'a file of the study is shorter than when it was imported; import the study again');
    return buffer;
  } finally {
    await handle.close();
  }
}
