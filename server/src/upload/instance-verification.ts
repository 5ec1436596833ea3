import type { RelayEventBus } from '../ops/relay-events.js';
import type { RelayMetrics } from '../ops/relay-metrics.js';
import type { TemporaryStorage } from '../storage/storage.js';
import type { RelayStore, TransactionStores } from '../store/relay-store.js';
import type { ChunkRecord, InstanceRecord, UploadRecord } from '../store/uploads-store.js';
import { InstanceVerifier } from './instance-verifier.js';
import { Semaphore } from './semaphore.js';

/** Instance heads kept for verification at most (64 KiB each: 16 MiB). */
const HEADS_KEPT = 256;

export interface UploadLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface InstanceVerificationOptions {
  store: RelayStore;
  storage: TemporaryStorage;
  allowedSopClasses: readonly string[];
  events: RelayEventBus;
  metrics: RelayMetrics;
  /**
   * Called for each instance as soon as it is verified, inside the commit that records the verdict
   * (its writes go through `tx`): forwarding starts while the rest still arrives. Answers what to
   * announce once that commit has succeeded.
   */
  onInstanceVerified?: InstanceVerifiedHook;
  log: () => UploadLog | undefined;
}

/**
 * What the request that brought an instance whole in one chunk knows already (the upload, the
 * instance now received, that chunk): its verification need not read them again, and no SHA-256
 * state was kept to forget. A small instance's cost is round trips (docs/BENCHMARKS.md).
 */
export interface ReceivedWhole {
  upload: UploadRecord;
  instance: InstanceRecord;
  chunk: ChunkRecord;
}

export type InstanceVerifiedHook = (tx: TransactionStores, uploadId: string, index: number) => Promise<() => void>;

/**
 * Verifies each instance once all its bytes are held (InstanceVerifier: the manifest's SHA-256, the
 * Part 10 header, the study and SOP identity, the allowed SOP classes), two at a time so the disk
 * stays free for incoming chunks, and records the verdict. A verification asked for again while it
 * runs answers the same promise.
 */
export class InstanceVerification {
  private readonly verifier: InstanceVerifier;
  private readonly running = new Map<string, Promise<void>>();
  /**
   * The first bytes of instances received whole, by `${uploadId}/${index}`, until their verification
   * reads its header from them. Bounded (HEADS_KEPT, oldest out): one not found is read from storage.
   */
  private readonly heads = new Map<string, Buffer>();
  /** Verification may read whole instances: two at a time keeps the disk for incoming chunks. */
  private readonly slots = new Semaphore(2);

  constructor(private readonly options: InstanceVerificationOptions) {
    this.verifier = new InstanceVerifier(options.storage, new Set(options.allowedSopClasses));
  }

  /** Keeps the head of an instance received in one chunk, so its verification need not read it. */
  keepHead(uploadId: string, index: number, head: Buffer): void {
    if (this.heads.size >= HEADS_KEPT) this.heads.delete(this.heads.keys().next().value!);
    this.heads.set(`${uploadId}/${index}`, head);
  }

  verify(uploadId: string, index: number, whole?: ReceivedWhole): Promise<void> {
    const key = `${uploadId}/${index}`;
    const running = this.running.get(key);
    if (running) return running;
    const { store, events, metrics } = this.options;
    const job = this.slots.run(async () => {
      const [upload, instance] = whole ? [whole.upload, whole.instance] : await Promise.all([store.uploads.find(uploadId), store.uploads.instance(uploadId, index)]);
      if (!upload || !instance || instance.state !== 'received') return;
      // Bytes hashed as they were written (one chunk holding all of it, or the hash carried from
      // chunk to chunk) are not read again: instanceSha256.
      const head = this.heads.get(key);
      this.heads.delete(key);
      const outcome = await this.verifier.verify({
        uploadId, index, size: instance.size, sha256: instance.sha256, studyInstanceUid: upload.studyInstanceUid,
        sopInstanceUid: instance.sopInstanceUid, sopClassUid: instance.sopClassUid, head,
        pieces: whole ? [whole.chunk] : await store.uploads.chunks(uploadId, index),
        carriedHash: whole ? undefined : await store.uploads.furthestHashState(uploadId, index),
      });
      // Received whole, the chunk carried no SHA-256 state: none to forget.
      const forgetHashStates = (tx: TransactionStores) => (whole ? Promise.resolve() : tx.uploads.forgetHashStates(uploadId, index));
      if (outcome.ok) {
        // Verified and queued for delivery in one commit: no crash can fall between the two, and a
        // small instance costs one disk flush here instead of two. Told only once it is true.
        const announceQueued = await store.withTransaction(async (tx) => {
          await tx.uploads.setInstanceState(uploadId, index, 'verified', { transferSyntaxUid: outcome.transferSyntaxUid });
          // What a RIS's HL7 report may name the study by (reports/hl7); the first instance's is kept.
          if (outcome.accessionNumber && !upload.accessionNumber) await tx.uploads.setAccessionNumber(uploadId, outcome.accessionNumber);
          await forgetHashStates(tx);
          return this.options.onInstanceVerified?.(tx, uploadId, index);
        });
        events.publish(upload.userId, { type: 'validated', uploadId, instance: index, ok: true });
        announceQueued?.();
      } else {
        await store.withTransaction(async (tx) => {
          await tx.uploads.setInstanceState(uploadId, index, 'rejected', { rejectionCode: outcome.code, rejectionReason: outcome.reason });
          await forgetHashStates(tx);
        });
        events.publish(upload.userId, { type: 'validated', uploadId, instance: index, ok: false, reason: outcome.code });
        metrics.instanceRejections.inc({ reason: outcome.code });
        this.options.log()?.info({ uploadId, instance: index, reason: outcome.code }, 'instance rejected');
      }
    }).catch((error: unknown) => {
      // An I/O failure leaves the instance 'received': complete() or a restart verifies it again.
      this.options.log()?.error({ err: error, uploadId, instance: index }, 'instance verification failed');
    }).finally(() => this.running.delete(key));
    this.running.set(key, job);
    return job;
  }

  /** Resolves once the verifications under way have ended. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }
}
