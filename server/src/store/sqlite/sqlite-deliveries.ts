import type { DeliveryFailureCode } from '../../protocol/delivery-failure-codes.js';
import type { DeliveriesStore, DeliveryItemKey, DeliveryItemState, DeliveryItemStatus, DeliveryLease, DueItem } from '../deliveries-store.js';
import type { Synchronous } from './async-facade.js';
import type { RelayDatabase } from './database.js';

/** DeliveriesStore's SQL: the delivery queue's tables, joined to the uploads they deliver. */
export class SqliteDeliveries implements Synchronous<DeliveriesStore> {
  constructor(private readonly db: RelayDatabase) {}

  enqueue(uploadId: string, index: number, destinations: readonly string[], now: string): void {
    this.db.transaction(() => {
      for (const destination of destinations) {
        this.db.prepare('INSERT OR IGNORE INTO deliveries (upload_id, destination, created_at) VALUES (?, ?, ?)').run(uploadId, destination, now);
        const { id } = this.db.prepare('SELECT id FROM deliveries WHERE upload_id = ? AND destination = ?').get(uploadId, destination) as { id: number };
        this.db.prepare(`INSERT OR IGNORE INTO delivery_items (delivery_id, idx, state, next_attempt_at, updated_at) VALUES (?, ?, 'queued', ?, ?)`)
          .run(id, index, now, now);
      }
    })();
  }

  /** Items of one destination due now: STAT before routine, then oldest upload first, in instance order. */
  due(destination: string, now: string, limit: number): DueItem[] {
    return this.db.prepare(`
      SELECT d.id AS deliveryId, d.destination, d.upload_id AS uploadId, u.user_id AS userId, i.idx AS "index", i.attempts,
             u.service_level AS serviceLevel, u.study_instance_uid AS studyInstanceUid,
             ui.sop_instance_uid AS sopInstanceUid, ui.sop_class_uid AS sopClassUid,
             ui.transfer_syntax_uid AS transferSyntaxUid, ui.size, ui.sha256,
             u.state AS uploadState, i.next_attempt_at AS dueAt
      FROM delivery_items i
      JOIN deliveries d ON d.id = i.delivery_id
      JOIN uploads u ON u.id = d.upload_id
      JOIN upload_instances ui ON ui.upload_id = d.upload_id AND ui.idx = i.idx
      WHERE d.destination = ? AND i.state = 'queued' AND i.next_attempt_at <= ? AND u.state IN ('receiving', 'accepted')
      ORDER BY CASE u.service_level WHEN 'STAT' THEN 0 ELSE 1 END, u.created_at, d.upload_id, i.idx
      LIMIT ?`).all(destination, now, limit) as DueItem[];
  }

  /** When the next queued item of a destination becomes due, if any. */
  nextDueAt(destination: string): string | undefined {
    // Items of a cancelled or expired upload are never sent: their data is gone.
    const row = this.db.prepare(`SELECT MIN(i.next_attempt_at) AS at FROM delivery_items i JOIN deliveries d ON d.id = i.delivery_id
      JOIN uploads u ON u.id = d.upload_id WHERE d.destination = ? AND i.state = 'queued' AND u.state IN ('receiving', 'accepted')`).get(destination) as { at: string | null };
    return row.at ?? undefined;
  }

  claimBatch(items: readonly DeliveryItemKey[], now: string, lease: DeliveryLease): DeliveryItemKey[] {
    // One transaction; SQLite has one writer at a time, so nothing is ever being claimed meanwhile.
    const claim = this.db.prepare(`UPDATE delivery_items SET state = 'sending', updated_at = ?, owner = ?, lease_until = ? WHERE delivery_id = ? AND idx = ? AND state = 'queued'`);
    return this.db.transaction(() => items.filter((item) => claim.run(now, lease.owner, lease.until, item.deliveryId, item.index).changes === 1))()
      .map((item) => ({ deliveryId: item.deliveryId, index: item.index }));
  }

  renewLeases(items: readonly DeliveryItemKey[], lease: DeliveryLease): number {
    const renew = this.db.prepare(`UPDATE delivery_items SET lease_until = ? WHERE delivery_id = ? AND idx = ? AND state = 'sending' AND owner = ?`);
    return this.db.transaction(() => items.reduce((renewed, item) => renewed + renew.run(lease.until, item.deliveryId, item.index, lease.owner).changes, 0))();
  }

  setState(items: readonly DeliveryItemKey[], state: DeliveryItemState, now: string,
    extra: { lastError?: string | null; failureCode?: DeliveryFailureCode | null; warning?: string | null; sender?: string } = {}): void {
    const sender = extra.sender ?? null;
    const update = this.db.prepare(`UPDATE delivery_items SET state = ?, updated_at = ?,
        last_error = COALESCE(?, last_error), failure_code = COALESCE(?, failure_code), warning = COALESCE(?, warning)
      WHERE delivery_id = ? AND idx = ? AND (? IS NULL OR (state = 'sending' AND owner = ?))`);
    this.db.transaction(() => {
      for (const item of items) update.run(state, now, extra.lastError ?? null, extra.failureCode ?? null, extra.warning ?? null, item.deliveryId, item.index, sender, sender);
    })();
  }

  retryLater(deliveryId: number, index: number, nextAttemptAt: string, error: string, now: string, sender?: string): void {
    this.db.prepare(`UPDATE delivery_items SET state = 'queued', attempts = attempts + 1, next_attempt_at = ?, last_error = ?, updated_at = ?
      WHERE delivery_id = ? AND idx = ? AND (? IS NULL OR (state = 'sending' AND owner = ?))`).run(nextAttemptAt, error, now, deliveryId, index, sender ?? null, sender ?? null);
  }

  /** The item's last transient failure used up delivery.maxAttempts: it fails for good, retryable by a person. */
  giveUp(deliveryId: number, index: number, error: string, now: string, sender?: string): void {
    const code: DeliveryFailureCode = 'ATTEMPTS_EXHAUSTED';
    this.db.prepare(`UPDATE delivery_items SET state = 'failed', attempts = attempts + 1, last_error = ?, failure_code = ?, updated_at = ?
      WHERE delivery_id = ? AND idx = ? AND (? IS NULL OR (state = 'sending' AND owner = ?))`).run(error, code, now, deliveryId, index, sender ?? null, sender ?? null);
  }

  requeueOwnedBy(owner: string, now: string): number {
    return this.db.prepare(`UPDATE delivery_items SET state = 'queued', next_attempt_at = ?, updated_at = ?, owner = NULL, lease_until = NULL
      WHERE state = 'sending' AND owner = ?`).run(now, now, owner).changes;
  }

  requeueLapsed(now: string): number {
    return this.db.prepare(`UPDATE delivery_items SET state = 'queued', next_attempt_at = ?, updated_at = ?, owner = NULL, lease_until = NULL
      WHERE state = 'sending' AND (lease_until IS NULL OR lease_until < ?)`).run(now, now, now).changes;
  }

  /** Failed items of an upload go back to the queue (an uploader's or admin's retry). */
  retryFailed(uploadId: string, now: string): number {
    return this.db.prepare(`UPDATE delivery_items SET state = 'queued', attempts = 0, next_attempt_at = ?, failure_code = NULL, updated_at = ?
      WHERE state = 'failed' AND delivery_id IN (SELECT id FROM deliveries WHERE upload_id = ?)`).run(now, now, uploadId).changes;
  }

  itemsOf(uploadId: string): DeliveryItemStatus[] {
    return this.db.prepare(`SELECT d.destination, i.idx AS "index", i.state, i.attempts, i.last_error AS lastError, i.failure_code AS failureCode, i.warning
      FROM delivery_items i JOIN deliveries d ON d.id = i.delivery_id WHERE d.upload_id = ? ORDER BY d.id, i.idx`).all(uploadId) as DeliveryItemStatus[];
  }

  queueDepth(destination: string): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM delivery_items i JOIN deliveries d ON d.id = i.delivery_id JOIN uploads u ON u.id = d.upload_id
      WHERE d.destination = ? AND i.state IN ('queued', 'sending') AND u.state IN ('receiving', 'accepted')`).get(destination) as { n: number }).n;
  }

  oldestQueuedAt(destination: string): string | undefined {
    const row = this.db.prepare(`SELECT MIN(i.updated_at) AS at FROM delivery_items i JOIN deliveries d ON d.id = i.delivery_id JOIN uploads u ON u.id = d.upload_id
      WHERE d.destination = ? AND i.state = 'queued' AND u.state IN ('receiving', 'accepted')`).get(destination) as { at: string | null };
    return row.at ?? undefined;
  }

  /** True when every item of the upload is final: delivered, confirmed or failed permanently. */
  allFinal(uploadId: string): boolean {
    const row = this.db.prepare(`SELECT COUNT(*) AS n FROM delivery_items i JOIN deliveries d ON d.id = i.delivery_id
      WHERE d.upload_id = ? AND i.state IN ('queued', 'sending')`).get(uploadId) as { n: number };
    return row.n === 0;
  }

  /** Remembers that a PACS holds these bytes: a later upload of them is told it need not send them. */
  markDelivered(instances: readonly { sopInstanceUid: string; sha256: string }[], now: string): void {
    const insert = this.db.prepare('INSERT OR IGNORE INTO delivered_instances (sop_instance_uid, sha256, delivered_at) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const i of instances) insert.run(i.sopInstanceUid, i.sha256, now);
    })();
  }

  /** Instances delivered (or confirmed) to every destination they were routed to. */
  deliveredEverywhere(instances: readonly { uploadId: string; index: number }[]): Set<string> {
    const row = this.db.prepare(`SELECT COUNT(*) AS total, SUM(CASE WHEN i.state IN ('delivered', 'confirmed') THEN 1 ELSE 0 END) AS done
      FROM delivery_items i JOIN deliveries d ON d.id = i.delivery_id WHERE d.upload_id = ? AND i.idx = ?`);
    return new Set(instances.filter(({ uploadId, index }) => {
      const counts = row.get(uploadId, index) as { total: number; done: number | null };
      return counts.total > 0 && counts.done === counts.total;
    }).map(({ uploadId, index }) => `${uploadId}/${index}`));
  }

  deliveriesFreeingSpace(soon: string): boolean {
    return this.db.prepare(`SELECT 1 FROM delivery_items di JOIN deliveries d ON d.id = di.delivery_id JOIN uploads u ON u.id = d.upload_id
      WHERE u.state = 'accepted' AND (di.state = 'sending' OR (di.state = 'queued' AND di.next_attempt_at <= ?)) LIMIT 1`).get(soon) !== undefined;
  }

  unqueuedInstances(uploadId: string): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM upload_instances i WHERE i.upload_id = ? AND i.state IN ('received', 'verified')
      AND NOT EXISTS (SELECT 1 FROM delivery_items di JOIN deliveries d ON d.id = di.delivery_id WHERE d.upload_id = i.upload_id AND di.idx = i.idx)`).get(uploadId) as { n: number }).n;
  }
}
