import type { RelayMetrics } from '../ops/relay-metrics.js';
import type { TemporaryStorage } from '../storage/storage.js';
import type { UploadLog } from './instance-verification.js';
import type { UploadsStore } from '../store/uploads-store.js';

export interface UploadExpiryOptions {
  uploads: UploadsStore;
  storage: TemporaryStorage;
  metrics: RelayMetrics;
  now: () => Date;
  /** How often the sweep runs (upload.cleanupIntervalSeconds). */
  intervalSeconds: number;
  log: () => UploadLog | undefined;
}

/**
 * Expires uploads abandoned past their expiry (upload.expireAfterSeconds since their last chunk) and
 * deletes temporary data no upload needs any more (an upload ended, or data a crash left behind).
 */
export class UploadExpiry {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: UploadExpiryOptions) {}

  async sweep(): Promise<{ expired: number; orphans: number }> {
    const { uploads, storage, metrics } = this.options;
    const now = this.options.now().toISOString();
    let expired = 0;
    for (const id of await uploads.expiredUploadIds(now)) {
      if (await uploads.setUploadState(id, 'expired', now, ['receiving'])) {
        expired++;
        metrics.uploadsExpired.inc();
        metrics.activeUploads.dec();
        this.options.log()?.info({ uploadId: id }, 'upload expired');
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

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
