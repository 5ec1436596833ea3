import type { DeliveryFailureCode } from '../protocol/delivery-failure-codes.js';

/**
 * The durable delivery queue: one delivery per (upload, destination), one item per instance. Items
 * move queued → sending → delivered (→ confirmed) or failed. Items of uploads cancelled or expired
 * are never due: their data is gone.
 */

export type DeliveryItemState = 'queued' | 'sending' | 'delivered' | 'confirmed' | 'failed';

export interface DueItem {
  deliveryId: number;
  destination: string;
  uploadId: string;
  /** The upload's owner, to whom its events go. */
  userId: number;
  index: number;
  attempts: number;
  serviceLevel: 'STAT' | 'ROUTINE';
  studyInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  size: number;
  sha256: string;
  /** The upload's state: 'receiving' while instances are still arriving. */
  uploadState: 'receiving' | 'accepted';
  /** When the item became due (queued, or its retry time). */
  dueAt: string;
}

export interface DeliveryItemStatus {
  destination: string;
  index: number;
  state: DeliveryItemState;
  attempts: number;
  lastError: string | null;
  failureCode: DeliveryFailureCode | null;
  warning: string | null;
}

export interface DeliveryItemKey {
  deliveryId: number;
  index: number;
}

/**
 * Who is sending an item, and until when that holds unless renewed. `owner` names one relay process
 * stably across its restarts (relay-services.ts: the configured instance name), so a relay requeues
 * at start what it was sending when it died, and leaves what the other relays send alone.
 */
export interface DeliveryLease {
  owner: string;
  until: string;
}

export interface DeliveriesStore {
  /** Queues the instance for each destination; idempotent (an item already queued, sent or failed stays as it is). */
  enqueue(uploadId: string, index: number, destinations: readonly string[], now: string): Promise<void>;
  /** Items of one destination due at `now`: STAT before routine, then oldest upload first, in instance order. */
  due(destination: string, now: string, limit: number): Promise<DueItem[]>;
  /** When the next queued item of a destination becomes due, if any. */
  nextDueAt(destination: string): Promise<string | undefined>;
  /**
   * Marks those of `items` still queued 'sending' under `lease`, for the worker that will send them,
   * in one atomic step, and answers which: the others are not queued (any more), or (PostgreSQL)
   * are being claimed by another worker right now, here or on another relay, and are skipped rather
   * than waited for (FOR UPDATE SKIP LOCKED). Selecting due items claims nothing, so only what this
   * answers may be sent.
   */
  claimBatch(items: readonly DeliveryItemKey[], now: string, lease: DeliveryLease): Promise<DeliveryItemKey[]>;
  /** Extends the lease of the owner's items still 'sending' among `items` (its heartbeat); answers how many. */
  renewLeases(items: readonly DeliveryItemKey[], lease: DeliveryLease): Promise<number>;
  /**
   * Sets an item's state; lastError, failureCode and warning change only where given (null clears
   * nothing: COALESCE). With `sender`, only while the item is 'sending' under that sender's lease:
   * a relay recording what a PACS answered must not overwrite the item once another relay took it
   * over (its lease lapsed while it could not reach the database).
   */
  setState(items: readonly DeliveryItemKey[], state: DeliveryItemState, now: string,
    extra?: { lastError?: string | null; failureCode?: DeliveryFailureCode | null; warning?: string | null; sender?: string }): Promise<void>;
  /** Back to the queue after a transient failure, due at `nextAttemptAt`, one attempt more; `sender` as for setState. */
  retryLater(deliveryId: number, index: number, nextAttemptAt: string, error: string, now: string, sender?: string): Promise<void>;
  /** The item's last transient failure used up delivery.maxAttempts: failed for good (ATTEMPTS_EXHAUSTED), retryable by a person; `sender` as for setState. */
  giveUp(deliveryId: number, index: number, error: string, now: string, sender?: string): Promise<void>;
  /** The owner's items 'sending' go back to the queue, due now (its start, after a crash; its graceful stop); answers how many. */
  requeueOwnedBy(owner: string, now: string): Promise<number>;
  /** Items 'sending' whose lease ended before `now` (or that have none) go back to the queue, due now, whoever owned them; answers how many. */
  requeueLapsed(now: string): Promise<number>;
  /** Failed items of an upload go back to the queue with their attempts reset (a person's retry); answers how many. */
  retryFailed(uploadId: string, now: string): Promise<number>;
  /** Every item of an upload: destinations in the order they were first queued, then by instance. */
  itemsOf(uploadId: string): Promise<DeliveryItemStatus[]>;
  /** Items of a destination queued or sending, of uploads receiving or accepted (a cancelled or expired upload's are never sent). */
  queueDepth(destination: string): Promise<number>;
  /** When the longest-waiting item of a destination still queued (of an upload receiving or accepted) was last queued; undefined when none is. */
  oldestQueuedAt(destination: string): Promise<string | undefined>;
  /** True when no item of the upload is queued or sending. */
  allFinal(uploadId: string): Promise<boolean>;
  /** Remembers that a PACS holds these bytes: a later upload of them is told it need not send them. */
  markDelivered(instances: readonly { sopInstanceUid: string; sha256: string }[], now: string): Promise<void>;
  /** Of these instances, those that have items and every one delivered or confirmed, as `${uploadId}/${index}`. */
  deliveredEverywhere(instances: readonly { uploadId: string; index: number }[]): Promise<Set<string>>;
  /**
   * Whether deliveries are about to free temporary space: an accepted upload (whose data goes once
   * delivered everywhere) has an item sending, or queued to go before `soon`.
   */
  deliveriesFreeingSpace(soon: string): Promise<boolean>;
  /** Instances of the upload that still need its data but have no delivery item: received (verification cut short) or verified but unrouted. */
  unqueuedInstances(uploadId: string): Promise<number>;
}
