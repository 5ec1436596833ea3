import { setTimeout as delay } from 'node:timers/promises';
import type { DeliveryFailureCode } from '../protocol/delivery-failure-codes.js';
import type { DeliveryConfig } from './delivery-config.js';
import { DeliveriesRepository, type DueItem } from './deliveries-repository.js';
import { TransientDestinationError, type Destination, type InstanceOutcome, type InstanceToSend } from './destination.js';
import type { Router } from './router.js';
import type { RelayDatabase } from '../db/database.js';
import type { AuditStore } from '../store/audit-store.js';
import type { RelayMetrics } from '../ops/relay-metrics.js';
import type { TemporaryStorage } from '../storage/storage.js';
import type { RelayEvents } from '../ops/relay-events.js';
import { UploadsRepository } from '../upload/uploads-repository.js';

export interface DeliveryQueueOptions {
  db: RelayDatabase;
  audit: AuditStore;
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
  /** The uploads' recorded chunks, the pieces an instance is read from. */
  private readonly uploads: UploadsRepository;
  private running = false;
  /** Per destination, the workers asleep until there is work (or it is time to send a gathered batch). */
  private readonly wakeups = new Map<string, Set<() => void>>();
  private readonly workers: Promise<void>[] = [];
  /** Releases of finished uploads still running, awaited by stop(). */
  private readonly releases = new Set<Promise<unknown>>();
  /**
   * Items a worker of this process has marked 'sending' and not yet recorded the outcome of, by
   * itemKey: the watchdog (requeueAbandoned) leaves them alone, however long their send takes.
   */
  private readonly held = new Set<string>();
  private watchdog: NodeJS.Timeout | undefined;
  /** Aborted by stop(): ends the waits between tries of an outcome commit. */
  private halt = new AbortController();

  constructor(private readonly options: DeliveryQueueOptions) {
    this.repo = new DeliveriesRepository(options.db);
    this.uploads = new UploadsRepository(options.db);
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
    this.halt = new AbortController();
    const requeued = this.repo.requeueInterrupted(this.options.now().toISOString());
    if (requeued > 0) this.options.log?.info({ requeued }, 'requeued deliveries interrupted by a restart');
    for (const name of this.options.destinations.keys()) {
      for (let i = 0; i < this.options.delivery.parallelBatches; i++) this.workers.push(this.work(name));
    }
    const leaseMs = this.options.delivery.sendingLeaseSeconds * 1000;
    this.watchdog = setInterval(() => this.requeueAbandoned(), Math.max(100, Math.min(leaseMs / 2, 30_000)));
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.halt.abort();
    clearInterval(this.watchdog);
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

  /**
   * The watchdog: items 'sending' that no worker of this process holds and that have not changed
   * for delivery.sendingLeaseSeconds go back to the queue, while the relay runs (at start,
   * requeueInterrupted does the same for every 'sending' item). A worker that lost its way (an
   * outcome it could not record before stop, a bug) must not leave a study 'forwarding' until the
   * next restart. The PACS stores by SOP Instance UID, so an item sent twice is stored once.
   *
   * Ownership is this process's memory (`held`): right for one relay per database. Relays sharing
   * one database (PostgreSQL, N instances) would need it in the row instead: an owner id and a
   * lease expiry that the sending worker renews, requeued by anyone once it lapses.
   */
  private requeueAbandoned(): void {
    const now = this.options.now();
    const cutoff = new Date(now.getTime() - this.options.delivery.sendingLeaseSeconds * 1000).toISOString();
    try {
      const abandoned = this.repo.sendingSince(cutoff).filter((item) => !this.held.has(itemKey(item)));
      if (abandoned.length === 0) return;
      let requeued = 0;
      this.inOneCommit(() => {
        for (const item of abandoned) requeued += this.repo.requeueAbandoned(item.deliveryId, item.index, cutoff, now.toISOString());
      });
      if (requeued === 0) return;
      this.options.log?.warn({ requeued }, 'requeued deliveries left sending by no worker');
      for (const name of this.options.destinations.keys()) this.wake(name);
    } catch (error) {
      // The database refuses writes for now (full, locked): the next round tries again.
      this.options.log?.error({ err: error }, 'could not requeue abandoned deliveries');
    }
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
    const startedAt = this.options.now().toISOString();
    // One commit for the whole batch, not one per instance. Should it fail, the items stay queued.
    this.inOneCommit(() => {
      for (const item of batch) this.repo.setState(item.deliveryId, item.index, 'sending', startedAt);
    });
    for (const item of batch) this.held.add(itemKey(item));
    try {
      await this.sendHeld(destination, batch);
    } finally {
      for (const item of batch) this.held.delete(itemKey(item));
    }
  }

  /** send() once the batch is marked 'sending': the destination's answer, recorded until it is. */
  private async sendHeld(destination: Destination, batch: DueItem[]): Promise<void> {
    const { storage, metrics } = this.options;
    const first = batch[0]!;
    const study = { uploadId: first.uploadId, studyInstanceUid: first.studyInstanceUid, serviceLevel: first.serviceLevel };
    const instances: InstanceToSend[] = batch.map((item) => ({
      sopInstanceUid: item.sopInstanceUid, sopClassUid: item.sopClassUid, transferSyntaxUid: item.transferSyntaxUid, size: item.size,
      // Read over the pieces the database recorded, never one it did not (storage.ts).
      open: () => storage.readRange(item.uploadId, item.index, this.uploads.chunks(item.uploadId, item.index), 0, item.size),
    }));
    const started = performance.now();
    let outcomes: Map<string, InstanceOutcome>;
    try {
      outcomes = await destination.store(study, instances);
    } catch (error) {
      const retryAfter = error instanceof TransientDestinationError ? error.retryAfterSeconds : undefined;
      const reason = error instanceof Error ? error.message : String(error);
      if (!(error instanceof TransientDestinationError)) this.options.log?.error({ err: error, destination: destination.name }, 'destination threw an unexpected error; retrying');
      let gaveUp = 0;
      await this.commitDurably((later) => {
        gaveUp = batch.filter((item) => !this.retry(item, reason, retryAfter, later)).length;
      });
      // Counted by the code the items are left with: retried (TRANSIENT) or given up (ATTEMPTS_EXHAUSTED, by retry()).
      if (batch.length > gaveUp) this.countFailures(destination.name, 'TRANSIENT', batch.length - gaveUp);
      this.options.log?.warn({ uploadId: study.uploadId, destination: destination.name, instances: batch.length, gaveUp, reason }, gaveUp > 0 ? 'delivery failed, out of attempts' : 'delivery failed, will retry');
      // Items that gave up are final: the study's delivery there may have ended (audit, release).
      if (gaveUp > 0) await this.afterBatch(batch);
      return;
    }
    metrics.deliverySeconds.observe({ destination: destination.name }, (performance.now() - started) / 1000);
    const now = this.options.now().toISOString();
    let stored: DueItem[] = [];
    await this.commitDurably((later) => {
      stored = this.recordOutcomes(destination, batch, outcomes, now, later);
    });
    if (stored.length > 0) {
      metrics.deliveredInstances.inc({ destination: destination.name }, stored.length);
      await this.confirm(destination, study, stored);
    }
    await this.afterBatch(batch);
  }

  /**
   * Records each instance's answer from the destination, in the caller's commit; answers those
   * stored, for confirmation. Events and metrics go through `later`: after the commit succeeded.
   */
  private recordOutcomes(destination: Destination, batch: DueItem[], outcomes: Map<string, InstanceOutcome>, now: string, later: Later): DueItem[] {
    const stored: DueItem[] = [];
    for (const item of batch) {
      const outcome = outcomes.get(item.sopInstanceUid);
      if (!outcome) {
        this.retry(item, 'the destination did not acknowledge this instance', undefined, later);
      } else if (outcome.status === 'stored') {
        // A confirming destination keeps the item 'sending' until the check answers, so status never
        // shows 'delivered' for an instance about to become 'confirmed'.
        if (!this.confirms(destination)) this.repo.setState(item.deliveryId, item.index, 'delivered', now, { warning: outcome.warning ?? null, lastError: null });
        else if (outcome.warning) this.repo.setState(item.deliveryId, item.index, 'sending', now, { warning: outcome.warning });
        stored.push(item);
      } else if (outcome.permanent) {
        // One code in the row, in status and as the metric's label (protocol/delivery-failure-codes.ts).
        const code = outcome.code ?? 'REFUSED';
        this.repo.setState(item.deliveryId, item.index, 'failed', now, { lastError: outcome.reason, failureCode: code });
        later(() => {
          this.countFailures(destination.name, code);
          this.options.events.emitForUpload(item.uploadId, { type: 'failed', uploadId: item.uploadId, instance: item.index, destination: destination.name, reason: outcome.reason });
        });
      } else {
        this.retry(item, outcome.reason, undefined, later);
      }
    }
    return stored;
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
      await this.commitDurably(() => {
        for (const item of stored) this.repo.setState(item.deliveryId, item.index, 'delivered', now, { warning: 'stored, but the confirmation query failed', lastError: null });
      });
      return;
    }
    await this.commitDurably((later) => this.recordConfirmations(destination, stored, present, now, later));
  }

  private recordConfirmations(destination: Destination, stored: DueItem[], present: Set<string>, now: string, later: Later): void {
    for (const item of stored) {
      const confirmed = present.has(item.sopInstanceUid);
      if (confirmed) this.repo.setState(item.deliveryId, item.index, 'confirmed', now, { lastError: null });
      else this.repo.setState(item.deliveryId, item.index, 'delivered', now, { warning: 'stored, but the PACS does not list it yet' });
      later(() => this.options.events.emitForUpload(item.uploadId, { type: confirmed ? 'confirmed' : 'delivered', uploadId: item.uploadId, instance: item.index, destination: destination.name }));
    }
  }

  private countFailures(destination: string, code: DeliveryFailureCode, count = 1): void {
    this.options.metrics.deliveryFailures.inc({ destination, reason: code }, count);
  }

  private confirms(destination: Destination): boolean {
    return this.options.confirming.has(destination.name) && destination.confirm !== undefined;
  }

  /**
   * Queues an item again after a transient failure, with backoff; answers false when the item used
   * up delivery.maxAttempts instead and failed for good (its data is kept for a person's retry).
   */
  private retry(item: DueItem, reason: string, retryAfterSeconds: number | undefined, later: Later): boolean {
    const { initialBackoffSeconds, maxBackoffSeconds, maxAttempts } = this.options.delivery;
    if (maxAttempts !== undefined && item.attempts + 1 >= maxAttempts) {
      this.repo.giveUp(item.deliveryId, item.index, `gave up after ${item.attempts + 1} attempts: ${reason}`, this.options.now().toISOString());
      later(() => {
        this.countFailures(item.destination, 'ATTEMPTS_EXHAUSTED');
        this.options.events.emitForUpload(item.uploadId, { type: 'failed', uploadId: item.uploadId, instance: item.index, destination: item.destination, reason });
      });
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
  private async afterBatch(batch: DueItem[]): Promise<void> {
    const now = this.options.now().toISOString();
    // Tried until recorded too: the release below is what frees the study's space.
    await this.commitDurably(() => {
      for (const item of batch) {
        if (this.repo.deliveredEverywhere(item.uploadId, item.index)) this.repo.markDelivered(item.sopInstanceUid, item.sha256, now);
      }
    });
    for (const uploadId of new Set(batch.map((item) => item.uploadId))) this.track(this.releaseIfDone(uploadId));
  }

  /**
   * One audit row per destination once an accepted upload's delivery there is final (every
   * instance delivered, or some failed for good); a retry that changes the outcome adds a row.
   */
  private async auditFinishedDeliveries(uploadId: string): Promise<void> {
    const study = this.options.db.prepare(`SELECT study_instance_uid, user_id FROM uploads WHERE id = ? AND state = 'accepted'`).get(uploadId) as { study_instance_uid: string; user_id: number } | undefined;
    if (!study) return;
    const items = this.repo.itemsOf(uploadId);
    for (const destination of new Set(items.map((i) => i.destination))) {
      const mine = items.filter((i) => i.destination === destination);
      if (mine.some((i) => i.state === 'queued' || i.state === 'sending')) continue;
      const failed = mine.filter((i) => i.state === 'failed').length;
      const target = `upload ${uploadId} study ${study.study_instance_uid} to ${destination}`;
      const outcome = failed === 0 ? `delivered ${mine.length}` : `delivered ${mine.length - failed}, failed ${failed}`;
      await this.options.audit.recordOnce({ action: 'delivery', actorUserId: study.user_id, address: null, target, outcome });
    }
  }

  private inOneCommit(write: () => void): void {
    this.options.db.transaction(write)();
  }

  /**
   * One commit recording what a destination answered, tried again until it succeeds or the queue
   * stops: the PACS has acted, and a commit that failed (SQLITE_FULL on a full disk, SQLITE_BUSY)
   * and was only logged left its items 'sending' with no worker until a restart. The waits grow
   * from 100 ms to 5 s. Events and metrics (given to `later`) follow the commit that succeeded, so
   * a failed try announces nothing. Stopped meanwhile, it throws: the items stay 'sending' and the
   * next start queues them again.
   */
  private async commitDurably(write: (later: Later) => void): Promise<void> {
    await this.untilRecorded(() => {
      const notices: (() => void)[] = [];
      this.inOneCommit(() => write((notice) => notices.push(notice)));
      for (const notice of notices) notice();
    });
  }

  /** Runs `record` until it succeeds or the queue stops, as commitDurably says. */
  private async untilRecorded(record: () => void | Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await record();
        if (attempt > 0) this.options.log?.info({ attempts: attempt + 1 }, 'delivery outcome recorded after the database refused it');
        return;
      } catch (error) {
        if (!this.running) throw error;
        // Once, then every tenth try: a database full for minutes should not fill the log too.
        if (attempt % 10 === 0) this.options.log?.error({ err: error, attempt: attempt + 1 }, 'could not record a delivery outcome; trying again');
        await delay(Math.min(5_000, 100 * 2 ** attempt), undefined, { signal: this.halt.signal }).catch(() => undefined);
      }
    }
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
    // Tried until recorded: a failure here would leave the study's data, and its space, held.
    await this.untilRecorded(() => this.auditFinishedDeliveries(uploadId));
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

/** Defers a notification (event, metric) until the commit it belongs to has succeeded. */
type Later = (notice: () => void) => void;

const itemKey = (item: { deliveryId: number; index: number }): string => `${item.deliveryId}/${item.index}`;

