import type { RelayConfig } from '../config/relay-config.js';
import { storageFullError, type RelayError } from '../http/relay-error.js';
import type { SpaceClaim, TemporaryStorage } from '../storage/storage.js';
import type { UploadLog } from './instance-verification.js';
import type { DeliveriesStore } from '../store/deliveries-store.js';
import type { UploadsStore } from '../store/uploads-store.js';

/** Retry-After while deliveries free space: a study's delivery takes seconds, a retry costs one small request. */
const RETRY_WHILE_DELIVERING_SECONDS = 10;
/** Retry-After when nothing the relay does frees space; clients also watch /readyz meanwhile. */
const RETRY_WHEN_STUCK_SECONDS = 300;
/** A delivery item queued to go within this long counts as under way (one backing off from a PACS that is down does not). */
const DELIVERY_SOON_MS = 60_000;

export interface UploadSpaceOptions {
  storage: TemporaryStorage;
  uploads: Pick<UploadsStore, 'bytesToReceive'>;
  deliveries: Pick<DeliveriesStore, 'deliveriesFreeingSpace'>;
  limits: RelayConfig['upload'];
  now: () => Date;
  /** Counts a chunk refused for space (relaypacs_chunk_rejections_total{reason="storage_full"}). */
  onRefusedChunk: () => void;
  log: () => UploadLog | undefined;
}

/**
 * Room in temporary storage for uploads and their chunks, and the 507 (RFC 4918 §11.5) with a
 * Retry-After when there is none. The storage measures (TemporaryStorage.hasRoom/admit); this
 * adds what the storage cannot know: the bytes the uploads already admitted still have to receive.
 */
export class UploadSpace {
  constructor(private readonly options: UploadSpaceOptions) {}

  /**
   * Admission: a new upload's bytes must fit, with the bytes that the uploads already admitted
   * still have to receive, above the floor (TemporaryStorage.hasRoom 'new-upload'; init admits one
   * at a time). Counting only the new study let five uploads that together did not fit all in; the
   * disk then filled under their chunks and under the database.
   */
  async requireRoom(needed: number): Promise<void> {
    const promised = await this.promisedBytes();
    if (!(await this.options.storage.hasRoom(promised + needed, 'new-upload'))) {
      this.options.log()?.info({ needed, promised }, 'upload refused: not enough free space for it and the uploads already admitted');
      throw await this.storageFull();
    }
  }

  /**
   * Whether a new upload of `bytes` would be admitted now, by the same rule as init (for /readyz):
   * a client told "ready" must not meet a 507 at its next init for want of space.
   */
  async hasRoomForUploads(bytes: number): Promise<boolean> {
    return this.options.storage.hasRoom(await this.promisedBytes() + bytes, 'new-upload');
  }

  /** Whether a chunk of the preferred size would be taken now (admitChunk's rule: above the database's reserve). */
  hasRoomForChunks(): Promise<boolean> {
    return this.options.storage.hasRoom(this.options.limits.preferredChunkBytes, 'chunk');
  }

  /**
   * Claims room for a chunk (TemporaryStorage.admit), which leaves upload.reserveDiskBytes free for
   * the database: the relay's own writes never take the last bytes SQLite needs to record chunks,
   * verifications and deliveries. 507 when it does not fit.
   */
  async admitChunk(bytes: number): Promise<SpaceClaim> {
    const claim = await this.options.storage.admit(bytes);
    if (!claim) {
      this.options.onRefusedChunk();
      throw await this.storageFull();
    }
    return claim;
  }

  /** The disk filled under a chunk anyway (something else wrote to it): 507, and a line for IT. */
  diskFull(uploadId: string, index: number, error: unknown): Promise<RelayError> {
    this.options.onRefusedChunk();
    this.options.log()?.error({ uploadId, instance: index, code: (error as { code?: string }).code }, 'chunk not kept: the disk is full');
    return this.storageFull();
  }

  /**
   * How long a client refused for space (507, or /readyz's 503) should wait: briefly while
   * deliveries are under way, since each accepted study delivered everywhere frees its data; long
   * when no delivery is about to free anything (space has to be freed by someone, and GET /readyz
   * tells a waiting client when it was).
   */
  async retryAfterSeconds(): Promise<number> {
    const soon = new Date(this.options.now().getTime() + DELIVERY_SOON_MS).toISOString();
    return (await this.options.deliveries.deliveriesFreeingSpace(soon)) ? RETRY_WHILE_DELIVERING_SECONDS : RETRY_WHEN_STUCK_SECONDS;
  }

  private async storageFull(): Promise<RelayError> {
    return storageFullError(await this.retryAfterSeconds());
  }

  /** What active uploads still have to receive (upload.reservationIdleSeconds: idle ones hold nothing). */
  private promisedBytes(): Promise<number> {
    const activeSince = new Date(this.options.now().getTime() - this.options.limits.reservationIdleSeconds * 1000).toISOString();
    return this.options.uploads.bytesToReceive(activeSince);
  }
}
