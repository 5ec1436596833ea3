import type { RelayMetrics } from '../ops/relay-metrics.js';
import type { TemporaryStorage } from '../storage/storage.js';
import type { UploadLog } from './instance-verification.js';
import type { ChunkClaimsStore } from '../store/chunk-claims-store.js';
import type { JobLeasesStore } from '../store/job-leases-store.js';
import type { UploadsStore } from '../store/uploads-store.js';

/** The job lease under which one relay at a time sweeps (job-leases-store.ts). */
const SWEEP_JOB = 'upload-expiry-sweep';
/**
 * Chunk claims silent this long are a dead relay's (a live writer's connection is timed out long
 * before): pruned by the sweep. Until then a clashing claim removes them anyway.
 */
const ABANDONED_CLAIM_MS = 3_600_000;

export interface UploadExpiryOptions {
  uploads: UploadsStore;
  jobLeases: JobLeasesStore;
  chunkClaims: ChunkClaimsStore;
  /** This relay among those sharing the database (config instanceName). */
  instanceName: string;
  storage: TemporaryStorage;
  metrics: RelayMetrics;
  now: () => Date;
  /** How often the sweep runs (upload.cleanupIntervalSeconds). */
  intervalSeconds: number;
  log: () => UploadLog | undefined;
}

/**
 * Expires uploads abandoned past their expiry (upload.expireAfterSeconds since their last chunk) and
 * deletes temporary data no upload needs any more (an upload ended, or data a crash left behind),
 * and the chunk claims a dead relay left.
 */
export class UploadExpiry {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: UploadExpiryOptions) {}

  /**
   * One sweep, on this relay if it holds (or takes) the sweep's lease; relays sharing the database
   * leave it to the holder, and take it over when it stops renewing (it renews at each of its
   * sweeps, for two and a half intervals: one late sweep does not hand it over).
   */
  async sweep(): Promise<{ expired: number; orphans: number }> {
    const { uploads, storage, metrics, jobLeases, chunkClaims, instanceName, intervalSeconds } = this.options;
    const clock = this.options.now();
    const now = clock.toISOString();
    const until = new Date(clock.getTime() + intervalSeconds * 2500).toISOString();
    if (!(await jobLeases.acquire(SWEEP_JOB, instanceName, now, until))) return { expired: 0, orphans: 0 };
    await chunkClaims.prune(ABANDONED_CLAIM_MS);
    let expired = 0;
    for (const id of await uploads.expiredUploadIds(now)) {
      if (await uploads.expire(id, now)) {
        expired++;
        metrics.uploadsExpired.inc();
        metrics.activeUploads.dec();
        this.options.log()?.info({ uploadId: id }, 'upload expired');
      } else if (!(await uploads.isDisposable(id))) {
        // Completed meanwhile (on another relay, say): its data is forwarding's now.
        continue;
      }
      // The carried hash states hold a few bytes of the instances each: none outlives the upload.
      await uploads.forgetHashStates(id);
      await storage.deleteUpload(id);
    }
    let orphans = 0;
    for (const id of await storage.listUploads()) {
      if (await uploads.isDisposable(id)) {
        await storage.deleteUpload(id);
        orphans++;
      }
    }
    return { expired, orphans };
  }

  start(): void {
    this.timer = setInterval(() => {
      this.sweep().catch((error: unknown) => this.options.log()?.error({ err: error }, 'upload cleanup failed'));
    }, this.options.intervalSeconds * 1000);
    this.timer.unref();
  }

  /** Stops sweeping and hands the lease back, so another relay need not wait for it to lapse. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.options.jobLeases.release(SWEEP_JOB, this.options.instanceName)
      .catch((error: unknown) => this.options.log()?.error({ err: error }, 'could not release the sweep lease'));
  }
}
