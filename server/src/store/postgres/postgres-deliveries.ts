import type { DeliveryFailureCode } from '../../protocol/delivery-failure-codes.js';
import type { DeliveriesStore, DeliveryItemKey, DeliveryItemState, DeliveryItemStatus, DeliveryLease, DueItem } from '../deliveries-store.js';
import type { Db } from './postgres-db.js';

/** DeliveriesStore's SQL: the delivery queue's tables, joined to the uploads they deliver. */
export class PostgresDeliveries implements DeliveriesStore {
  constructor(private readonly db: Db) {}

  async enqueue(uploadId: string, index: number, destinations: readonly string[], now: string): Promise<void> {
    if (destinations.length === 0) return;
    // One round trip: both INSERTs are relaypacs_enqueue's statements (migration 5 says why a function).
    await this.db.step('SELECT relaypacs_enqueue($1, $2, $3, $4)', [uploadId, destinations, index, now]);
  }

  async due(destination: string, now: string, limit: number): Promise<DueItem[]> {
    // Upload ids tie-break in byte order (COLLATE "C"), as SQLite compares text, whatever the database's collation.
    const { rows } = await this.db.query<DueItem>(`
      SELECT d.id AS "deliveryId", d.destination, d.upload_id AS "uploadId", u.user_id AS "userId", i.idx AS "index", i.attempts,
             u.service_level AS "serviceLevel", u.study_instance_uid AS "studyInstanceUid",
             ui.sop_instance_uid AS "sopInstanceUid", ui.sop_class_uid AS "sopClassUid",
             ui.transfer_syntax_uid AS "transferSyntaxUid", ui.size, ui.sha256,
             u.state AS "uploadState", i.next_attempt_at AS "dueAt"
      FROM delivery_items i
      JOIN deliveries d ON d.id = i.delivery_id
      JOIN uploads u ON u.id = d.upload_id
      JOIN upload_instances ui ON ui.upload_id = d.upload_id AND ui.idx = i.idx
      WHERE d.destination = $1 AND i.state = 'queued' AND i.next_attempt_at <= $2 AND u.state IN ('receiving', 'accepted')
      ORDER BY CASE u.service_level WHEN 'STAT' THEN 0 ELSE 1 END, u.created_at, d.upload_id COLLATE "C", i.idx
      LIMIT $3`, [destination, now, limit]);
    return rows;
  }

  async nextDueAt(destination: string): Promise<string | undefined> {
    // Items of a cancelled or expired upload are never sent: their data is gone.
    const { rows } = await this.db.query<{ at: string | null }>(`SELECT min(i.next_attempt_at) AS at FROM delivery_items i
      JOIN deliveries d ON d.id = i.delivery_id JOIN uploads u ON u.id = d.upload_id
      WHERE d.destination = $1 AND i.state = 'queued' AND u.state IN ('receiving', 'accepted')`, [destination]);
    return rows[0]?.at ?? undefined;
  }

  async claimBatch(items: readonly DeliveryItemKey[], now: string, lease: DeliveryLease): Promise<DeliveryItemKey[]> {
    if (items.length === 0) return [];
    // One statement, atomic by itself. SKIP LOCKED: rows another relay's worker is claiming at this
    // moment are left to it instead of waited for; after that claim commits they are no longer
    // queued anyway. The UPDATE checks state again on the row it locked.
    const { rows } = await this.db.query<{ delivery_id: string; idx: number }>(`WITH wanted AS (
        SELECT i.delivery_id, i.idx FROM delivery_items i
          JOIN unnest($1::bigint[], $2::int[]) AS k(delivery_id, idx) ON i.delivery_id = k.delivery_id AND i.idx = k.idx
        WHERE i.state = 'queued' FOR UPDATE OF i SKIP LOCKED)
      UPDATE delivery_items i SET state = 'sending', updated_at = $3, owner = $4, lease_until = $5
      FROM wanted WHERE i.delivery_id = wanted.delivery_id AND i.idx = wanted.idx AND i.state = 'queued'
      RETURNING i.delivery_id, i.idx`,
    [items.map((i) => i.deliveryId), items.map((i) => i.index), now, lease.owner, lease.until]);
    return rows.map((row) => ({ deliveryId: Number(row.delivery_id), index: row.idx }));
  }

  async renewLeases(items: readonly DeliveryItemKey[], lease: DeliveryLease): Promise<number> {
    if (items.length === 0) return 0;
    const { rowCount } = await this.db.query(`UPDATE delivery_items i SET lease_until = $1
      FROM unnest($3::bigint[], $4::int[]) AS k(delivery_id, idx)
      WHERE i.delivery_id = k.delivery_id AND i.idx = k.idx AND i.state = 'sending' AND i.owner = $2`,
    [lease.until, lease.owner, items.map((i) => i.deliveryId), items.map((i) => i.index)]);
    return rowCount ?? 0;
  }

  async setState(items: readonly DeliveryItemKey[], state: DeliveryItemState, now: string,
    extra: { lastError?: string | null; failureCode?: DeliveryFailureCode | null; warning?: string | null; sender?: string } = {}): Promise<void> {
    if (items.length === 0) return;
    await this.db.query(`UPDATE delivery_items i SET state = $1, updated_at = $2,
        last_error = COALESCE($3::text, i.last_error), failure_code = COALESCE($4::text, i.failure_code), warning = COALESCE($5::text, i.warning)
      FROM unnest($6::bigint[], $7::int[]) AS k(delivery_id, idx)
      WHERE i.delivery_id = k.delivery_id AND i.idx = k.idx AND ($8::text IS NULL OR (i.state = 'sending' AND i.owner = $8::text))`,
    [state, now, extra.lastError ?? null, extra.failureCode ?? null, extra.warning ?? null, items.map((i) => i.deliveryId), items.map((i) => i.index), extra.sender ?? null]);
  }

  async retryLater(deliveryId: number, index: number, nextAttemptAt: string, error: string, now: string, sender?: string): Promise<void> {
    await this.db.query(`UPDATE delivery_items SET state = 'queued', attempts = attempts + 1, next_attempt_at = $1, last_error = $2, updated_at = $3
      WHERE delivery_id = $4 AND idx = $5 AND ($6::text IS NULL OR (state = 'sending' AND owner = $6::text))`, [nextAttemptAt, error, now, deliveryId, index, sender ?? null]);
  }

  async giveUp(deliveryId: number, index: number, error: string, now: string, sender?: string): Promise<void> {
    const code: DeliveryFailureCode = 'ATTEMPTS_EXHAUSTED';
    await this.db.query(`UPDATE delivery_items SET state = 'failed', attempts = attempts + 1, last_error = $1, failure_code = $2, updated_at = $3
      WHERE delivery_id = $4 AND idx = $5 AND ($6::text IS NULL OR (state = 'sending' AND owner = $6::text))`, [error, code, now, deliveryId, index, sender ?? null]);
  }

  async requeueOwnedBy(owner: string, now: string): Promise<number> {
    const { rowCount } = await this.db.query(`UPDATE delivery_items SET state = 'queued', next_attempt_at = $1, updated_at = $1, owner = NULL, lease_until = NULL
      WHERE state = 'sending' AND owner = $2`, [now, owner]);
    return rowCount ?? 0;
  }

  async requeueLapsed(now: string): Promise<number> {
    const { rowCount } = await this.db.query(`UPDATE delivery_items SET state = 'queued', next_attempt_at = $1, updated_at = $1, owner = NULL, lease_until = NULL
      WHERE state = 'sending' AND (lease_until IS NULL OR lease_until < $1)`, [now]);
    return rowCount ?? 0;
  }

  async retryFailed(uploadId: string, now: string): Promise<number> {
    const { rowCount } = await this.db.query(`UPDATE delivery_items SET state = 'queued', attempts = 0, next_attempt_at = $1, failure_code = NULL, updated_at = $1
      WHERE state = 'failed' AND delivery_id IN (SELECT id FROM deliveries WHERE upload_id = $2)`, [now, uploadId]);
    return rowCount ?? 0;
  }

  async itemsOf(uploadId: string): Promise<DeliveryItemStatus[]> {
    const { rows } = await this.db.query<DeliveryItemStatus>(`SELECT d.destination, i.idx AS "index", i.state, i.attempts,
        i.last_error AS "lastError", i.failure_code AS "failureCode", i.warning
      FROM delivery_items i JOIN deliveries d ON d.id = i.delivery_id WHERE d.upload_id = $1 ORDER BY d.id, i.idx`, [uploadId]);
    return rows;
  }

  async oldestQueuedAt(destination: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ at: string | null }>(`SELECT min(i.updated_at) AS at FROM delivery_items i JOIN deliveries d ON d.id = i.delivery_id
      JOIN uploads u ON u.id = d.upload_id WHERE d.destination = $1 AND i.state = 'queued' AND u.state IN ('receiving', 'accepted')`, [destination]);
    return rows[0]?.at ?? undefined;
  }

  async queueDepth(destination: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(`SELECT count(*) AS n FROM delivery_items i JOIN deliveries d ON d.id = i.delivery_id
      JOIN uploads u ON u.id = d.upload_id
      WHERE d.destination = $1 AND i.state IN ('queued', 'sending') AND u.state IN ('receiving', 'accepted')`, [destination]);
    return rows[0]!.n;
  }

  async allFinal(uploadId: string): Promise<boolean> {
    const { rowCount } = await this.db.query(`SELECT 1 FROM delivery_items i JOIN deliveries d ON d.id = i.delivery_id
      WHERE d.upload_id = $1 AND i.state IN ('queued', 'sending') LIMIT 1`, [uploadId]);
    return rowCount === 0;
  }

  async markDelivered(instances: readonly { sopInstanceUid: string; sha256: string }[], now: string): Promise<void> {
    if (instances.length === 0) return;
    await this.db.query(`INSERT INTO delivered_instances (sop_instance_uid, sha256, delivered_at)
      SELECT DISTINCT u, s, $3::timestamptz FROM unnest($1::text[], $2::text[]) AS t(u, s)
      ON CONFLICT (sop_instance_uid, sha256) DO NOTHING`, [instances.map((i) => i.sopInstanceUid), instances.map((i) => i.sha256), now]);
  }

  async deliveredEverywhere(instances: readonly { uploadId: string; index: number }[]): Promise<Set<string>> {
    if (instances.length === 0) return new Set();
    const { rows } = await this.db.query<{ upload_id: string; idx: number }>(`SELECT d.upload_id, i.idx
      FROM delivery_items i JOIN deliveries d ON d.id = i.delivery_id
      JOIN unnest($1::text[], $2::int[]) AS k(upload_id, idx) ON d.upload_id = k.upload_id AND i.idx = k.idx
      GROUP BY d.upload_id, i.idx HAVING bool_and(i.state IN ('delivered', 'confirmed'))`,
    [instances.map((i) => i.uploadId), instances.map((i) => i.index)]);
    return new Set(rows.map((row) => `${row.upload_id}/${row.idx}`));
  }


  async deliveriesFreeingSpace(soon: string): Promise<boolean> {
    const { rowCount } = await this.db.query(`SELECT 1 FROM delivery_items di JOIN deliveries d ON d.id = di.delivery_id JOIN uploads u ON u.id = d.upload_id
      WHERE u.state = 'accepted' AND (di.state = 'sending' OR (di.state = 'queued' AND di.next_attempt_at <= $1)) LIMIT 1`, [soon]);
    return rowCount !== 0;
  }

  async unqueuedInstances(uploadId: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(`SELECT count(*) AS n FROM upload_instances i
      WHERE i.upload_id = $1 AND i.state IN ('received', 'verified')
        AND NOT EXISTS (SELECT 1 FROM delivery_items di JOIN deliveries d ON d.id = di.delivery_id WHERE d.upload_id = i.upload_id AND di.idx = i.idx)`,
    [uploadId]);
    return rows[0]!.n;
  }
}
