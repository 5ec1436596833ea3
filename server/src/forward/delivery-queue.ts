import { AuditLog } from '../auth/audit-log.js';
import type { DeliveryConfig } from './delivery-config.js';
import { DeliveriesRepository, type DueItem } from './deliveries-repository.js';
import { TransientDestinationError, type Destination, type InstanceOutcome, type InstanceToSend } from './destination.js';
import type { Router } from './router.js';
import type { RelayDatabase } from '../db/database.js';
import type { RelayMetrics } from '../ops/relay-metrics.js';
import type { TemporaryStorage } from '../storage/storage.js';
import type { RelayEvents } from '../ops/relay-events.js';

export interface DeliveryQueueOptions {
  db: RelayDatabase;
  storage: TemporaryStorage;
  destinations: ReadonlyMap<string, Destination>;
  /** Destinations whose stored instances are checked (QIDO-RS, REST) before counting as confirmed. */
  confirming: ReadonlySet<string>;
  router: Router;
  metrics: RelayMetrics;
  events: RelayEvents;
  delivery: DeliveryConfig;
  now: () => Date;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

/**
 * Forwards verified instances to their destinations, durably. Each destination has
 * delivery.parallelBatches workers, each sending one batch at a time (STAT first), so a STAT study
 * overtakes routine work at the next batch boundary. While a study is still arriving, a batch that
 * is not full waits up to delivery.gatherMs for more of its instances (see nextBatch).
 * Transient failures retry with exponential backoff and jitter, forever unless delivery.maxAttempts
 * bounds them: by default an accepted study is never given up on for a network fault. Permanent
 * refusals fail that instance only, with the PACS's reason.
 */
export class DeliveryQueue {
  readonly repo: DeliveriesRepository;
  private running = false;
  /** Per destination, the workers asleep until there is work (or it is time to send a gathered batch). */
  private readonly wakeups = new Map<string, Set<() => void>>();
  private readonly workers: Promise<void>[] = [];
  /** Releases of finished uploads still running, awaited by stop(). */
  private readonly releases = new Set<Promise<unknown>>();

  private readonly audit: AuditLog;

  constructor(private readonly options: DeliveryQueueOptions) {
    this.repo = new DeliveriesRepository(options.db);
    this.audit = new AuditLog(options.db, options.now);
  }

  setLogger(log: NonNullable<DeliveryQueueOptions['log']>): void {
    this.options.log = log;
  }

  /** Routes a verified instance and queues it for each destination; answers the destination names. */
  enqueueInstance(uploadId: string, index: number): string[] {
    const row = this.options.db.prepare(`SELECT u.modality, u.service_level, u.source_workstation, u.facility, us.username, i.sop_class_uid
      FROM uploads u JOIN users us ON us.id = u.user_id JOIN upload_instances i ON i.upload_id = u.id
      WHERE u.id = ? AND i.idx = ?`).get(uploadId, index) as
      { modality: string | null; service_level: 'STAT' | 'ROUTINE'; source_workstation: string | null; facility: string | null; username: string; sop_class_uid: string } | undefined;
    if (!row) return [];
    const names = this.options.router.destinationsFor({
      modality: row.modality, serviceLevel: row.service_level, sourceWorkstation: row.source_workstation, facility: row.facility,
      username: row.username, sopClassUid: row.sop_class_uid,
    });
    if (names.length === 0) {
      this.options.log?.warn({ uploadId, instance: index }, 'no routing rule matches this instance; it is not forwarded');
      return [];
    }
    this.repo.enqueue(uploadId, index, names, this.options.now().toISOString());
    this.options.events.emitForUpload(uploadId, { type: 'forwarding', uploadId, instance: index, destinations: names });
    for (const name of names) this.wake(name);
    return names;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const requeued = this.repo.requeueInterrupted(this.options.now().toISOString());
    if (requeued > 0) this.options.log?.info({ requeued }, 'requeued deliveries interrupted by a restart');
    for (const name of this.options.destinations.keys()) {
      for (let i = 0; i < this.options.delivery.parallelBatches; i++) this.workers.push(this.work(name));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const name of this.wakeups.keys()) this.wake(name);
    await Promise.allSettled(this.workers);
    await Promise.allSettled([...this.releases]);
    await Promise.allSettled([...this.options.destinations.values()].map((d) => d.close()));
  }

  /** Refreshes the per-destination queue-depth gauge (called when /metrics is scraped). */
  updateQueueDepthMetric(): void {
    for (const name of this.options.destinations.keys()) this.options.metrics.deliveryQueueDepth.set({ destination: name }, this.repo.queueDepth(name));
  }

  /**
   * The upload has arrived whole: batches of it being gathered (nextBatch) go now, and its data is
   * released once delivery is done everywhere.
   */
  studyAccepted(uploadId: string): void {
    for (const name of this.options.destinations.keys()) this.wake(name);
    this.track(this.releaseIfDone(uploadId));
  }

  /** Failed instances of an upload are queued again. */
  retryFailed(uploadId: string): number {
    const count = this.repo.retryFailed(uploadId, this.options.now().toISOString());
    for (const name of this.options.destinations.keys()) this.wake(name);
    return count;
  }

  private wake(name: string): void {
    for (const wake of [...(this.wakeups.get(name) ?? [])]) wake();
  }

  private async work(name: string): Promise<void> {
    const destination = this.options.destinations.get(name)!;
    while (this.running) {
      const { batch, gatherMs } = this.nextBatch(destination);
      if (batch.length === 0 || gatherMs > 0) {
        // Woken early when more instances are queued: the batch may be full by then.
        await this.sleep(name, batch.length === 0 ? undefined : gatherMs);
        continue;
      }
      try {
        await this.send(destination, batch);
      } catch (error) {
        // Bookkeeping failed (e.g. the database is gone): back off rather than spin.
        this.options.log?.error({ err: error, destination: name }, 'delivery worker failed');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  /**
   * Due items of one study, within the destination's batch limits, and how long to wait before
   * sending them (0: now). A batch waits, up to delivery.gatherMs after its first item became due,
   * only while it could still grow: not full, its study still arriving, no other study's items
   * waiting behind it, and not a retry.
   */
  private nextBatch(destination: Destination): { batch: DueItem[]; gatherMs: number } {
    const { maxInstances, maxBytes } = destination.batchLimits;
    const now = this.options.now();
    const due = this.repo.due(destination.name, now.toISOString(), maxInstances);
    const first = due[0];
    if (!first) return { batch: [], gatherMs: 0 };
    const batch: DueItem[] = [];
    let bytes = 0;
    let full = due.length >= maxInstances;
    for (const item of due) {
      if (item.uploadId !== first.uploadId || (batch.length > 0 && bytes + item.size > maxBytes)) {
        full = true;
        break;
      }
      batch.push(item);
      bytes += item.size;
    }
    const growing = !full && first.uploadState === 'receiving' && first.attempts === 0;
    const gatherMs = growing ? Math.max(0, Date.parse(first.dueAt) + this.options.delivery.gatherMs - now.getTime()) : 0;
    return { batch, gatherMs };
  }

  /**
   * Until woken (work was queued, or the queue stops) and at most `gatherMs` when a batch is being
   * gathered; otherwise until the next retry is due (at most a minute).
   */
  private async sleep(name: string, gatherMs?: number): Promise<void> {
    const next = gatherMs === undefined ? this.repo.nextDueAt(name) : undefined;
    const untilDue = gatherMs ?? (next === undefined ? 60_000 : Math.max(10, Date.parse(next) - this.options.now().getTime()));
    const sleepers = this.wakeups.get(name) ?? new Set<() => void>();
    this.wakeups.set(name, sleepers);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(1, Math.min(untilDue, 60_000)));
      function done() {
        clearTimeout(timer);
        sleepers.delete(done);
        resolve();
      }
      sleepers.add(done);
    });
  }

  private async send(destination: Destination, batch: DueItem[]): Promise<void> {
    const { storage, metrics } = this.options;
    const first = batch[0]!;
    const study = { uploadId: first.uploadId, studyInstanceUid: first.studyInstanceUid, serviceLevel: first.serviceLevel };
    const startedAt = this.options.now().toISOString();
    // One commit for the whole batch, not one per instance.
    this.inOneCommit(() => {
      for (const item of batch) this.repo.setState(item.deliveryId, item.index, 'sending', startedAt);
    });
    const instances: InstanceToSend[] = batch.map((item) => ({
      sopInstanceUid: item.sopInstanceUid, sopClassUid: item.sopClassUid, transferSyntaxUid: item.transferSyntaxUid, size: item.size,
      open: () => storage.readRange(item.uploadId, item.index, 0, item.size),
    }));
    const started = performance.now();
    let outcomes: Map<string, InstanceOutcome>;
    try {
      outcomes = await destination.store(study, instances);
    } catch (error) {
      const retryAfter = error instanceof TransientDestinationError ? error.retryAfterSeconds : undefined;
      const reason = error instanceof Error ? error.message : String(error);
      if (!(error instanceof TransientDestinationError)) this.options.log?.error({ err: error, destination: destination.name }, 'destination threw an unexpected error; retrying');
      const gaveUp = batch.filter((item) => !this.retry(item, reason, retryAfter)).length;
      metrics.deliveryFailures.inc({ destination: destination.name, reason: 'transient' }, batch.length);
      this.options.log?.warn({ uploadId: study.uploadId, destination: destination.name, instances: batch.length, gaveUp, reason }, gaveUp > 0 ? 'delivery failed, out of attempts' : 'delivery failed, will retry');
      // Items that gave up are final: the study's delivery there may have ended (audit, release).
      if (gaveUp > 0) this.afterBatch(batch);
      return;
    }
    metrics.deliverySeconds.observe({ destination: destination.name }, (performance.now() - started) / 1000);
    const now = this.options.now().toISOString();
    const stored: DueItem[] = [];
    this.inOneCommit(() => this.recordOutcomes(destination, batch, outcomes, now, stored));
    if (stored.length > 0) {
      metrics.deliveredInstances.inc({ destination: destination.name }, stored.length);
      await this.confirm(destination, study, stored);
    }
    this.afterBatch(batch);
  }

  /** Each instance's answer from the destination; those stored go to `stored` for confirmation. */
  private recordOutcomes(destination: Destination, batch: DueItem[], outcomes: Map<string, InstanceOutcome>, now: string, stored: DueItem[]): void {
    const { metrics } = this.options;
    for (const item of batch) {
      const outcome = outcomes.get(item.sopInstanceUid);
      if (!outcome) {
        this.retry(item, 'the destination did not acknowledge this instance');
      } else if (outcome.status === 'stored') {
        // A confirming destination keeps the item 'sending' until the check answers, so status never
        // shows 'delivered' for an instance about to become 'confirmed'.
        if (!this.confirms(destination)) this.repo.setState(item.deliveryId, item.index, 'delivered', now, { warning: outcome.warning ?? null, lastError: null });
        else if (outcome.warning) this.repo.setState(item.deliveryId, item.index, 'sending', now, { warning: outcome.warning });
        stored.push(item);
      } else if (outcome.permanent) {
        this.repo.setState(item.deliveryId, item.index, 'failed', now, { lastError: outcome.reason, failureCode: outcome.code ?? 'REFUSED' });
        metrics.deliveryFailures.inc({ destination: destination.name, reason: outcome.code ?? 'refused' });
        this.options.events.emitForUpload(item.uploadId, { type: 'failed', uploadId: item.uploadId, instance: item.index, destination: destination.name, reason: outcome.reason });
      } else {
        this.retry(item, outcome.reason);
      }
    }
  }

  private async confirm(destination: Destination, study: { uploadId: string; studyInstanceUid: string; serviceLevel: 'STAT' | 'ROUTINE' }, stored: DueItem[]): Promise<void> {
    const now = this.options.now().toISOString();
    if (!this.confirms(destination) || !destination.confirm) {
      for (const item of stored) this.options.events.emitForUpload(item.uploadId, { type: 'delivered', uploadId: item.uploadId, instance: item.index, destination: destination.name });
      return;
    }
    let present: Set<string>;
    try {
      present = await destination.confirm(study, stored.map((i) => i.sopInstanceUid));
    } catch (error) {
      this.options.log?.warn({ uploadId: study.uploadId, destination: destination.name, err: error }, 'confirmation query failed; instances stay delivered, unconfirmed');
      this.inOneCommit(() => {
        for (const item of stored) this.repo.setState(item.deliveryId, item.index, 'delivered', now, { warning: 'stored, but the confirmation query failed', lastError: null });
      });
      return;
    }
    this.inOneCommit(() => this.recordConfirmations(destination, stored, present, now));
  }

  private recordConfirmations(destination: Destination, stored: DueItem[], present: Set<string>, now: string): void {
    for (const item of stored) {
      if (present.has(item.sopInstanceUid)) {
        this.repo.setState(item.deliveryId, item.index, 'confirmed', now, { lastError: null });
        this.options.events.emitForUpload(item.uploadId, { type: 'confirmed', uploadId: item.uploadId, instance: item.index, destination: destination.name });
      } else {
        this.repo.setState(item.deliveryId, item.index, 'delivered', now, { warning: 'stored, but the PACS does not list it yet' });
        this.options.events.emitForUpload(item.uploadId, { type: 'delivered', uploadId: item.uploadId, instance: item.index, destination: destination.name });
      }
    }
  }

  private confirms(destination: Destination): boolean {
    return this.options.confirming.has(destination.name) && destination.confirm !== undefined;
  }

  /**
   * Queues an item again after a transient failure, with backoff; answers false when the item used
   * up delivery.maxAttempts instead and failed for good (its data is kept for a person's retry).
   */
  private retry(item: DueItem, reason: string, retryAfterSeconds?: number): boolean {
    const { initialBackoffSeconds, maxBackoffSeconds, maxAttempts } = this.options.delivery;
    if (maxAttempts !== undefined && item.attempts + 1 >= maxAttempts) {
      this.repo.giveUp(item.deliveryId, item.index, `gave up after ${item.attempts + 1} attempts: ${reason}`, this.options.now().toISOString());
      this.options.events.emitForUpload(item.uploadId, { type: 'failed', uploadId: item.uploadId, instance: item.index, destination: item.destination, reason });
      return false;
    }
    const exponential = Math.min(maxBackoffSeconds, initialBackoffSeconds * 2 ** item.attempts);
    // Full jitter on the upper half, so many relays retrying one PACS don't do so in step.
    const delay = Math.max(retryAfterSeconds ?? 0, exponential * (0.5 + Math.random() * 0.5));
    const now = this.options.now();
    this.repo.retryLater(item.deliveryId, item.index, new Date(now.getTime() + delay * 1000).toISOString(), reason, now.toISOString());
    return true;
  }

  /** Records PACS-held instances for later duplicate detection and frees data no one needs any more. */
  private afterBatch(batch: DueItem[]): void {
    const now = this.options.now().toISOString();
    const uploads = new Set<string>();
    this.inOneCommit(() => {
      for (const item of batch) {
        uploads.add(item.uploadId);
        if (this.repo.deliveredEverywhere(item.uploadId, item.index)) this.repo.markDelivered(item.sopInstanceUid, item.sha256, now);
      }
    });
    for (const uploadId of uploads) this.track(this.releaseIfDone(uploadId));
  }

  /**
   * One audit row per destination once an accepted upload's delivery there is final (every
   * instance delivered, or some failed for good); a retry that changes the outcome adds a row.
   */
  private auditFinishedDeliveries(uploadId: string): void {
    const study = this.options.db.prepare(`SELECT study_instance_uid, user_id FROM uploads WHERE id = ? AND state = 'accepted'`).get(uploadId) as { study_instance_uid: string; user_id: number } | undefined;
    if (!study) return;
    const items = this.repo.itemsOf(uploadId);
    for (const destination of new Set(items.map((i) => i.destination))) {
      const mine = items.filter((i) => i.destination === destination);
      if (mine.some((i) => i.state === 'queued' || i.state === 'sending')) continue;
      const failed = mine.filter((i) => i.state === 'failed').length;
      const target = `upload ${uploadId} study ${study.study_instance_uid} to ${destination}`;
      const outcome = failed === 0 ? `delivered ${mine.length}` : `delivered ${mine.length - failed}, failed ${failed}`;
      const already = this.options.db.prepare(`SELECT 1 FROM audit_log WHERE action = 'delivery' AND target = ? AND outcome = ?`).get(target, outcome);
      if (!already) this.audit.record({ action: 'delivery', actorUserId: study.user_id, address: null, target, outcome });
    }
  }

  private inOneCommit(write: () => void): void {
    this.options.db.transaction(write)();
  }

  /** Keeps a background task visible to stop(), and logs rather than leaks its failure. */
  track(task: Promise<unknown>): void {
    const tracked = task.catch((error: unknown) => this.options.log?.error({ err: error }, 'releasing an upload failed')).finally(() => this.releases.delete(tracked));
    this.releases.add(tracked);
  }

  /**
   * Deletes an accepted upload's temporary data once every destination has every instance. When an
   * instance failed permanently the data stays until the upload expires, so a retry can resend it.
   */
  async releaseIfDone(uploadId: string): Promise<boolean> {
    this.auditFinishedDeliveries(uploadId);
    const upload = this.options.db.prepare(`SELECT state FROM uploads WHERE id = ?`).get(uploadId) as { state: string } | undefined;
    if (upload?.state !== 'accepted' || !this.repo.allFinal(uploadId)) return false;
    const failed = this.repo.itemsOf(uploadId).some((i) => i.state === 'failed');
    // Verified but unrouted instances, and instances whose verification was cut short, still need the data.
    const unsent = (this.options.db.prepare(`SELECT COUNT(*) AS n FROM upload_instances i WHERE i.upload_id = ? AND i.state IN ('received', 'verified')
      AND NOT EXISTS (SELECT 1 FROM delivery_items di JOIN deliveries d ON d.id = di.delivery_id WHERE d.upload_id = i.upload_id AND di.idx = i.idx)`).get(uploadId) as { n: number }).n;
    if (failed || unsent > 0) return false;
    await this.options.storage.deleteUpload(uploadId);
    this.options.events.emitForUpload(uploadId, { type: 'delivered', uploadId });
    this.options.log?.info({ uploadId }, 'study delivered everywhere; temporary data deleted');
    return true;
  }
}
