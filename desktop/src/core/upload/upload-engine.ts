// The upload engine: the run loop that takes a job from queued to delivered, with its holds, back-off and orchestration.
import type { UploadStatus } from '../../../../server/src/protocol/upload-protocol.js';
import type { CatalogDatabase } from '../catalog/catalog-database.js';
import { backoffMs, sleepUnlessAborted, sleepUntilReady } from './backoff.js';
import { ChunkSender } from './chunk-sender.js';
import type { ConnectivityMonitor } from './connectivity-monitor.js';
import { DeliveryFollower } from './delivery-follower.js';
import { attemptFailure, isHeld, JobFailed, JobStopped, OFFLINE_REASON, SendingHeld } from './job-errors.js';
import { JobControls } from './job-controls.js';
import type { UploadEventSource } from './relay-event-stream.js';
import { RelayRequestError, type RelayClient } from './relay-client.js';
import { SendingPolicy, type HoldReason, type SendingLimits } from './sending-policy.js';
import { StatFirstGate } from './stat-first-gate.js';
import { UploadInitiator } from './upload-initiator.js';
import { UploadJobsRepository, type UploadJob } from './upload-jobs-repository.js';

export { isBackingOff, OFFLINE_REASON, type JobErrorCode } from './job-errors.js';

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

export interface JobOutcome {
  jobId: number;
  state: 'delivered' | 'confirmed' | 'failed' | 'queued' | 'forwarding' | 'paused' | 'cancelled';
  studyInstanceUid: string;
  uploadId: string | null;
  instances: { sopInstanceUid: string; state: string; reason?: string }[];
  error?: { code: string; message: string };
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
  private readonly initiator: UploadInitiator;
  private readonly controls: JobControls;
  private readonly chunks: ChunkSender;
  private readonly delivery: DeliveryFollower;
  /** Jobs being run, so a job asked for twice (a watcher and a queue drain) is sent once. */
  private readonly running = new Map<number, Promise<JobOutcome>>();
  private readonly stopping = new AbortController();
  /** Per job waiting out a back-off: aborting it ends the wait (a retry asked for). */
  private readonly backoffWakers = new Map<number, AbortController>();
  /** The last progress reported per running job, repeated when the job is held. */
  private readonly lastReported = new Map<number, { bytesSent: number; totalBytes: number }>();
  /** Routine jobs run alongside a STAT one (the desktop's lanes, watched folders) yield it the link. */
  private readonly statFirst = new StatFirstGate();

  constructor(private readonly options: UploadEngineOptions) {
    const { db, client } = options;
    this.jobs = new UploadJobsRepository(db, options.now);
    this.policy = new SendingPolicy({
      ...(options.limits ? { limits: options.limits } : {}), ...(options.now ? { now: options.now } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}), ...(options.windowRecheckMs ? { recheckMs: options.windowRecheckMs } : {}),
    });
    this.initiator = new UploadInitiator({
      client, accessToken: options.accessToken, ...(options.sourceWorkstation ? { sourceWorkstation: options.sourceWorkstation } : {}),
    });
    this.controls = new JobControls({
      jobs: this.jobs, client, initiator: this.initiator, wakeBackoff: (jobId) => this.backoffWakers.get(jobId)?.abort(),
    });
    this.chunks = new ChunkSender({
      client, jobs: this.jobs, policy: this.policy, statFirst: this.statFirst,
      ...(options.connectivity ? { connectivity: options.connectivity } : {}),
      ...pick(options, ['parallelChunks', 'maxParallelChunks', 'maxBytesInFlight', 'chunkStallMs', 'lossyChunkStallMs']),
    });
    this.delivery = new DeliveryFollower({
      client, instances: this.jobs, transaction: (write) => db.transaction(write)(),
      ...(options.events ? { events: options.events } : {}), ...pick(options, ['pollIntervalMs', 'connectedPollIntervalMs']),
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
    return this.controls.pause(jobId);
  }

  resume(jobId: number): boolean {
    return this.controls.resume(jobId);
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
  retry(jobId: number): Promise<boolean> {
    return this.controls.retry(jobId);
  }

  /**
   * Cancels a job the relay has not accepted yet, and frees what the relay holds of it. A study the
   * relay accepted is already on its way to the PACS and cannot be called back.
   */
  cancel(jobId: number): Promise<boolean> {
    return this.controls.cancel(jobId);
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
      if (isHeld(job)) {
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
        const { final, code, message } = attemptFailure(caught);
        if (final) {
          this.jobs.setState(jobId, 'failed', { error: { code, message } });
          return this.outcome(jobId, 'failed', { code, message });
        }
        this.jobs.countAttempt(jobId, { code, message });
        if (maxAttempts > 0 && attempt + 1 >= maxAttempts) return this.outcome(jobId, 'queued', { code, message });
        const retryAfter = caught instanceof RelayRequestError && caught.retryAfterSeconds ? caught.retryAfterSeconds * 1000 : 0;
        const waitMs = Math.max(retryAfter, backoffMs(attempt, this.options.backoffBaseMs ?? 500, this.options.backoffMaxMs ?? 30_000));
        // close() ends the wait too: the job keeps its place in the queue for the next engine. retry() ends it
        // early: someone asked for the job to go now.
        const waker = new AbortController();
        this.backoffWakers.set(jobId, waker);
        const signal = AbortSignal.any([this.stopping.signal, waker.signal]);
        try {
          if (caught instanceof RelayRequestError && (caught.status === 507 || caught.status === 503)) {
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
    let init = await this.initiator.init(job, files);
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
            await this.chunks.send({
              job, init, files, missing, alreadyHeld: totalBytes - sumMissing(status),
              onStored: (sent) => this.report(job.id, 'uploading', sent, totalBytes),
            });
          } catch (error) {
            // The upload token expired or the upload vanished on the relay: start over from init,
            // which resumes the same upload when it still exists.
            if (error instanceof RelayRequestError && (error.status === 401 || error.status === 404)) init = await this.initiator.init(job, files);
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
      if (now && (now.serviceLevel !== job.serviceLevel || now.clinicalHistory !== job.clinicalHistory)) init = await this.initiator.init(now, files);
      this.jobs.setState(job.id, 'completing');
      status = await this.options.client.complete(init.uploadId, init.uploadToken);
      this.jobs.setState(job.id, 'forwarding');
    }
    this.delivery.record(job.id, status);
    if (!waitForDelivery) {
      this.report(job.id, 'forwarding', totalBytes, totalBytes);
      return this.outcome(job.id, 'forwarding');
    }
    status = await this.delivery.follow(job.id, init, status);
    const failed = status.deliveries.some((d) => d.state === 'failed') || status.instances.some((i) => i.state === 'rejected');
    const confirmed = status.deliveries.length > 0 && status.deliveries.every((d) => d.state === 'confirmed');
    const final = failed ? 'failed' : confirmed ? 'confirmed' : 'delivered';
    this.jobs.setState(job.id, final, failed ? { error: { code: 'PACS_REJECTED', message: 'some instances were not accepted; see each instance' } } : { error: null });
    this.report(job.id, final, totalBytes, totalBytes);
    return this.outcome(job.id, final);
  }

  private report(jobId: number, state: string, bytesSent: number, totalBytes: number, reason?: HoldReason): void {
    this.lastReported.set(jobId, { bytesSent, totalBytes });
    this.options.onProgress?.({ jobId, state, bytesSent, totalBytes, ...(reason ? { reason } : {}) });
  }

  private outcome(jobId: number, state: JobOutcome['state'], error?: { code: string; message: string }): JobOutcome {
    // The next run of this job (a retry) reads the catalog afresh.
    this.delivery.forget(jobId);
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

/** The options of `keys` that are set (so an unset one is left to the module's default). */
function pick<T extends object, K extends keyof T>(options: T, keys: K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((key) => options[key] !== undefined).map((key) => [key, options[key]])) as Partial<Pick<T, K>>;
}
