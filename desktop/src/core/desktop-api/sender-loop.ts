import type { JobOutcome, RunOptions, UploadEngine } from '../upload/upload-engine.js';

export interface SenderLoopOptions {
  /** The engine of the signed-in session (throws when nobody is signed in). */
  engine: () => Promise<UploadEngine>;
  /** A job changed state through the loop (sent, accepted, delivered, held...). */
  onChange?: () => void;
  /** A job reached an end: delivered, confirmed, failed or cancelled (for notifications). */
  onFinished?: (outcome: JobOutcome) => void;
  /** Ids and codes only: never patient data. */
  log?: (message: string) => void;
  /** How often the queue is looked at when nothing woke the loop. Default 2 s. */
  idleMs?: number;
  /** Accepted studies followed at once until the PACS has them. Default 8. */
  maxFollowing?: number;
  /** A job held for its time window is looked at again after this long. Default 30 s. */
  heldRecheckMs?: number;
}

const FINAL = new Set(['delivered', 'confirmed', 'failed', 'cancelled']);

/**
 * The desktop app's sender: while someone is signed in it sends the queue continuously, one
 * study at a time (STAT first, then oldest first: the engine's pending order), and hands each study
 * the relay accepted to a follower that waits for the PACS, so the next study starts while the
 * relay forwards the last. A routine study outside its time window is passed over until the window
 * may have opened; a STAT queued meanwhile goes next. It is the only sender in the app: watched
 * folders queue through it and wait for it (`whenFinished`).
 */
export class SenderLoop {
  private running = false;
  private loop: Promise<void> | undefined;
  private current: Promise<unknown> | undefined;
  private readonly following = new Map<number, Promise<void>>();
  private readonly heldUntil = new Map<number, number>();
  private readonly waiters = new Map<number, { resolve: (outcome: JobOutcome) => void; reject: (error: Error) => void }[]>();
  private wakeUp: (() => void) | undefined;
  private woken = false;
  /** Counts wake-ups: a hold decided before the latest one (a window just opened) is not kept. */
  private generation = 0;
  private failures = 0;

  constructor(private readonly options: SenderLoopOptions) {}

  /** True while a study is being sent or followed. */
  get busy(): boolean {
    return this.current !== undefined || this.following.size > 0;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Something was queued, resumed or retried: look at the queue now. */
  wake(): void {
    this.generation++;
    this.woken = true;
    this.heldUntil.clear();
    this.wakeUp?.();
  }

  /**
   * Stops taking new jobs and waits up to `graceMs` for the study being sent and those being
   * followed. Whatever is still running then is left to end with the engine (Core.resetEngine ends
   * its waits); the queue in the catalog says where each job is, and the next start resumes it.
   */
  async stop(graceMs = 3_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wakeUp?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([this.loop, this.current, ...this.following.values()]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    this.loop = undefined;
  }

  /** Rejects everyone waiting for a job: the app is closing. */
  abandonWaiters(reason: string): void {
    for (const list of this.waiters.values()) for (const waiter of list) waiter.reject(new Error(reason));
    this.waiters.clear();
  }

  /**
   * Resolves once the job has ended (delivered, confirmed, failed or cancelled), however it got
   * there: sent by this loop, cancelled from the queue, or already ended.
   */
  whenFinished(jobId: number): Promise<JobOutcome> {
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(jobId) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(jobId, list);
      void this.settleWaiters();
    });
  }

  /** Looks at every awaited job in the catalog; call after a queue action changed one. */
  async settleWaiters(): Promise<void> {
    if (this.waiters.size === 0) return;
    let engine: UploadEngine;
    try {
      engine = await this.options.engine();
    } catch {
      return;
    }
    for (const jobId of [...this.waiters.keys()]) {
      const job = engine.jobs.find(jobId);
      if (job && FINAL.has(job.state)) this.finished(outcomeFromCatalog(engine, jobId));
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      let engine: UploadEngine;
      try {
        engine = await this.options.engine();
      } catch {
        // Signed out under the loop: it is stopped by whoever signed out.
        await this.pause(this.options.idleMs ?? 2_000);
        continue;
      }
      try {
        await this.settleWaiters();
        const pending = engine.jobs.pending();
        for (const job of pending) {
          if (job.state === 'forwarding' && !this.following.has(job.id) && this.following.size < (this.options.maxFollowing ?? 8)) this.follow(engine, job.id);
        }
        const now = performance.now();
        const next = pending.find((job) => job.state !== 'forwarding' && !this.following.has(job.id) && !((this.heldUntil.get(job.id) ?? 0) > now));
        if (!next) {
          await this.pause(this.options.idleMs ?? 2_000);
          continue;
        }
        const generation = this.generation;
        const outcome = await this.track(engine.run(next.id, { waitForDelivery: false } satisfies RunOptions));
        this.failures = 0;
        this.options.onChange?.();
        if (outcome.state === 'forwarding') this.follow(engine, next.id);
        else if (outcome.state === 'queued') {
          // Held for its window, or given back after failed attempts: others go first for a while.
          const wait = outcome.error?.code === 'WAITING_FOR_WINDOW' ? this.options.heldRecheckMs ?? 30_000 : 5_000;
          if (this.generation === generation) this.heldUntil.set(next.id, performance.now() + wait);
        } else if (FINAL.has(outcome.state)) this.finished(outcome);
      } catch (error) {
        // Not expected (the engine records failures on the job); back off so a broken catalog cannot spin.
        this.failures++;
        this.options.log?.(`sender: ${error instanceof Error ? error.name : 'error'}; trying again`);
        await this.pause(Math.min(60_000, 1_000 * 2 ** Math.min(this.failures, 6)));
      }
    }
  }

  /** Follows an accepted study until the PACS has it (or refused it). */
  private follow(engine: UploadEngine, jobId: number): void {
    const follower = engine.run(jobId, { waitForDelivery: true })
      .then((outcome) => {
        this.options.onChange?.();
        if (FINAL.has(outcome.state)) this.finished(outcome);
      }, (error: unknown) => {
        this.options.log?.(`sender: following job ${jobId} stopped (${error instanceof Error ? error.name : 'error'})`);
      })
      .finally(() => {
        this.following.delete(jobId);
        if (this.running) this.wakeUp?.();
      });
    this.following.set(jobId, follower);
  }

  private finished(outcome: JobOutcome): void {
    this.heldUntil.delete(outcome.jobId);
    this.options.onFinished?.(outcome);
    const list = this.waiters.get(outcome.jobId);
    this.waiters.delete(outcome.jobId);
    for (const waiter of list ?? []) waiter.resolve(outcome);
  }

  private async track<T>(work: Promise<T>): Promise<T> {
    this.current = work;
    try {
      return await work;
    } finally {
      this.current = undefined;
    }
  }

  private pause(ms: number): Promise<void> {
    if (this.woken || !this.running) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      // Woken while asleep: this sleep is what the wake-up was for.
      this.wakeUp = () => {
        this.woken = false;
        done();
      };
    });
  }
}

/** A job's outcome as the catalog records it, for a job that ended outside this loop. */
function outcomeFromCatalog(engine: UploadEngine, jobId: number): JobOutcome {
  const job = engine.jobs.find(jobId)!;
  return {
    jobId, state: job.state as JobOutcome['state'], studyInstanceUid: job.studyInstanceUid, uploadId: job.relayUploadId,
    instances: engine.jobs.instances(jobId).map((i) => ({ sopInstanceUid: i.sopInstanceUid, state: i.state, ...(i.reason ? { reason: i.reason } : {}) })),
    ...(job.errorCode ? { error: { code: job.errorCode, message: job.lastError ?? '' } } : {}),
  };
}
