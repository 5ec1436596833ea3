/**
 * Speed and time left of each job from the engine's progress reports: bytes over the last few
 * seconds (a sliding window, so a stall shows as falling speed rather than an average of the whole
 * upload), and the bytes left at that speed. Kept in memory only: after a restart a job's speed
 * is unknown until it sends again.
 */
export interface JobTransfer {
  bytesSent: number;
  totalBytes: number;
  bytesPerSecond: number;
  /** null while the speed is unknown or zero. */
  etaSeconds: number | null;
}

interface Sample {
  at: number;
  bytes: number;
}

export class TransferSpeed {
  private readonly jobs = new Map<number, { samples: Sample[]; totalBytes: number; sending: boolean }>();

  constructor(
    private readonly windowMs = 5_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A progress report: `sending` false once the job left the uploading state (its speed is then 0). */
  record(jobId: number, bytesSent: number, totalBytes: number, sending: boolean): void {
    const at = this.now();
    let job = this.jobs.get(jobId);
    if (!job) this.jobs.set(jobId, (job = { samples: [], totalBytes, sending }));
    job.totalBytes = totalBytes;
    job.sending = sending;
    // A restart of the job (resumed from what the relay holds) may report fewer bytes: start over.
    if (job.samples.length > 0 && bytesSent < job.samples.at(-1)!.bytes) job.samples = [];
    job.samples.push({ at, bytes: bytesSent });
    this.prune(job.samples, at);
  }

  forget(jobId: number): void {
    this.jobs.delete(jobId);
  }

  /** What is known of a job's transfer, or undefined when it has not reported in this process. */
  get(jobId: number): JobTransfer | undefined {
    const job = this.jobs.get(jobId);
    if (!job || job.samples.length === 0) return undefined;
    const at = this.now();
    this.prune(job.samples, at);
    const last = job.samples.at(-1)!;
    const first = job.samples[0]!;
    let bytesPerSecond = 0;
    // Over the window up to now, not up to the last sample: a stalled upload slows down on screen.
    // Under half a second of samples says too little: unknown rather than a wild figure.
    const span = at - first.at;
    if (job.sending && job.samples.length > 1 && span >= 500) bytesPerSecond = Math.round(((last.bytes - first.bytes) * 1000) / span);
    const left = Math.max(0, job.totalBytes - last.bytes);
    return {
      bytesSent: last.bytes,
      totalBytes: job.totalBytes,
      bytesPerSecond,
      etaSeconds: bytesPerSecond > 0 ? Math.ceil(left / bytesPerSecond) : left === 0 && job.sending ? 0 : null,
    };
  }

  private prune(samples: Sample[], at: number): void {
    // Keep one sample older than the window as the baseline for the rate over the window.
    while (samples.length > 2 && at - samples[1]!.at > this.windowMs) samples.shift();
  }
}
