import type { JobOutcome, RunOptions, UploadEngine } from './upload-engine.js';

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

type Lane = 'STAT' | 'ROUTINE';

/**
 * The desktop app's sender: while someone is signed in it sends the queue continuously in two
 * lanes, one STAT study and one routine study at a time (each oldest first), and hands each study
 * the relay accepted to a follower that waits for the PACS, so the next study starts while the
 * relay forwards the last. A STAT queued while a routine study is sending starts at once in its own
 * lane; the engine holds the routine study's chunks while the STAT one sends (StatFirstGate), so
 * the STAT study has the link and the cap, and the routine one then goes on where it was. A routine
 * study outside its time window is passed over until the window may have opened. It is the only
 * sender in the app: watched folders queue through it and wait for it (`whenFinished`).
 */
export class SenderLoop {
  private running = false;
  private loop: Promise<void> | undefined;
  /** The study being sent in each lane, until the relay accepted it (or it was held, or failed). */
  private readonly lanes = new Map<Lane, { jobId: number; work: Promise<void> }>();
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
    return this.lanes.size > 0 || this.following.size > 0;
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
      Promise.allSettled([this.loop, ...[...this.lanes.values()].map((lane) => lane.work), ...this.following.values()]),
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
        const sending = new Set([...this.lanes.values()].map((lane) => lane.jobId));
        for (const lane of ['STAT', 'ROUTINE'] as const) {
          if (this.lanes.has(lane)) continue;
          const next = pending.find((job) => job.serviceLevel === lane && job.state !== 'forwarding' && !this.following.has(job.id)
            && !sending.has(job.id) && !((this.heldUntil.get(job.id) ?? 0) > now));
          if (next) this.send(engine, lane, next.id);
        }
        // Woken by a lane or a follower ending, something queued, or the idle look.
        await this.pause(this.options.idleMs ?? 2_000);
      } catch (error) {
        // Not expected (the engine records failures on the job); back off so a broken catalog cannot spin.
        this.failures++;
        this.options.log?.(`sender: ${error instanceof Error ? error.name : 'error'}; trying again`);
        await this.pause(Math.min(60_000, 1_000 * 2 ** Math.min(this.failures, 6)));
      }
    }
  }

  /** Sends one study in its lane until the relay accepted it, then hands it to a follower. */
  private send(engine: UploadEngine, lane: Lane, jobId: number): void {
    const generation = this.generation;
    const work = engine.run(jobId, { waitForDelivery: false } satisfies RunOptions)
      .then((outcome) => {
        this.failures = 0;
        this.options.onChange?.();
        if (outcome.state === 'forwarding') this.follow(engine, jobId);
        else if (outcome.state === 'queued') {
          // Held for its window, or given back after failed attempts: others go first for a while.
          const wait = outcome.error?.code === 'WAITING_FOR_WINDOW' ? this.options.heldRecheckMs ?? 30_000 : 5_000;
          if (this.generation === generation) this.heldUntil.set(jobId, performance.now() + wait);
        } else if (FINAL.has(outcome.state)) this.finished(outcome);
      }, (error: unknown) => {
        // Not expected (the engine records failures on the job); the job waits so a broken catalog cannot spin.
        this.failures++;
        this.options.log?.(`sender: job ${jobId} stopped (${error instanceof Error ? error.name : 'error'}); trying again`);
        this.heldUntil.set(jobId, performance.now() + Math.min(60_000, 1_000 * 2 ** Math.min(this.failures, 6)));
      })
      .finally(() => {
        this.lanes.delete(lane);
        this.nudge();
      });
    this.lanes.set(lane, { jobId, work });
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
        this.nudge();
      });
    this.following.set(jobId, follower);
  }

  /** A lane or a follower is free: the loop looks at the queue now, without forgetting holds (unlike wake()). */
  private nudge(): void {
    if (!this.running) return;
    this.woken = true;
    this.wakeUp?.();
  }

  private finished(outcome: JobOutcome): void {
    this.heldUntil.delete(outcome.jobId);
    this.options.onFinished?.(outcome);
    const list = this.waiters.get(outcome.jobId);
    this.waiters.delete(outcome.jobId);
    for (const waiter of list ?? []) waiter.resolve(outcome);
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
