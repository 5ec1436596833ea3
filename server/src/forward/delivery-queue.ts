import { setTimeout as delay } from 'node:timers/promises';
import type { DeliveryFailureCode } from '../protocol/delivery-failure-codes.js';
import type { RelayEventBus } from '../ops/relay-events.js';
import type { RelayMetrics } from '../ops/relay-metrics.js';
import type { TemporaryStorage } from '../storage/storage.js';
import type { DeliveriesStore, DeliveryItemKey, DeliveryItemState, DeliveryItemStatus, DeliveryLease, DueItem } from '../store/deliveries-store.js';
import type { RelayStore, TransactionStores } from '../store/relay-store.js';
import type { UploadRecord } from '../store/uploads-store.js';
import type { DeliveryConfig } from './delivery-config.js';
import { TransientDestinationError, type Destination, type InstanceOutcome, type InstanceToSend } from './destination.js';
import type { Router } from './router.js';

export interface DeliveryQueueOptions {
  store: RelayStore;
  /**
   * Names this relay process in the leases of the items it sends, stably across its restarts
   * (config instanceName): at start it requeues its own items left 'sending', never another relay's.
   */
  instanceName: string;
  storage: TemporaryStorage;
  destinations: ReadonlyMap<string, Destination>;
  /** Destinations whose stored instances are checked (QIDO-RS, REST) before counting as confirmed. */
  confirming: ReadonlySet<string>;
  router: Router;
  metrics: RelayMetrics;
  events: RelayEventBus;
  delivery: DeliveryConfig;
  now: () => Date;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** The facilities that get their own label on relaypacs_studies_total (config metrics.facilities). */
  metricFacilities?: ReadonlySet<string>;
  /**
   * Told when a destination has finished an accepted upload with at least one instance delivered
   * (the report monitor starts watching the study there). Called again after a restart or a retry:
   * it must be idempotent. Failing, it is tried again like the audit row beside it.
   */
  onDestinationDelivered?: (delivered: { uploadId: string; destination: string; studyInstanceUid: string; userId: number }) => Promise<void>;
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
  /** The queue's state, outside a transaction (inside one, the `tx.deliveries` it was given). */
  private readonly repo: DeliveriesStore;
  private running = false;
  /** Per destination, the workers asleep until there is work (or it is time to send a gathered batch). */
  private readonly wakeups = new Map<string, Set<() => void>>();
  /** Ends listening for other relays' signals. */
  private unlisten: (() => void) | undefined;
  private readonly workers: Promise<void>[] = [];
  /** Releases of finished uploads still running, awaited by stop(). */
  private readonly releases = new Set<Promise<unknown>>();
  /**
   * Items a worker of this process has marked 'sending' and not yet recorded the outcome of, by
   * itemKey: their leases are renewed (keepLeases), however long their send takes.
   */
  private readonly held = new Map<string, DeliveryItemKey>();
  private leaseKeeper: NodeJS.Timeout | undefined;
  /** Aborted by stop(): ends the waits between tries of an outcome commit. */
  private halt = new AbortController();
  /** The lease keeper's round under way, if any: rounds never overlap. */
  private leaseRound: Promise<void> | undefined;

  constructor(private readonly options: DeliveryQueueOptions) {
    this.repo = options.store.deliveries;
  }

  setLogger(log: NonNullable<DeliveryQueueOptions['log']>): void {
    this.options.log = log;
  }

  /**
   * Routes a verified instance and queues it for each destination, in the caller's unit of work
   * (`tx`: the commit that records the instance verified). Answers the announcement to make once
   * that commit has succeeded: the 'forwarding' event, and the destinations' workers woken.
   */
  async enqueueInstance(tx: TransactionStores, uploadId: string, index: number): Promise<() => void> {
    const facts = await tx.uploads.routingFacts(uploadId, index);
    if (!facts) return () => undefined;
    const names = this.options.router.destinationsFor(facts);
    if (names.length === 0) {
      return () => this.options.log?.warn({ uploadId, instance: index }, 'no routing rule matches this instance; it is not forwarded');
    }
    await tx.deliveries.enqueue(uploadId, index, names, this.options.now().toISOString());
    return () => {
      this.options.events.publish(facts.userId, { type: 'forwarding', uploadId, instance: index, destinations: names });
      this.announce(names);
    };
  }

  /** Delivery state per destination and instance of one upload, for its status. */
  itemsOf(uploadId: string): Promise<DeliveryItemStatus[]> {
    return this.repo.itemsOf(uploadId);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.halt = new AbortController();
    // What this relay was sending when it stopped (killed, or a stop that could not record an
    // outcome) goes again now; other relays' items are theirs until their leases lapse.
    const requeued = await this.repo.requeueOwnedBy(this.options.instanceName, this.options.now().toISOString());
    if (requeued > 0) this.options.log?.info({ requeued }, 'requeued deliveries interrupted by a restart');
    this.unlisten = this.options.store.signals.listen('deliveries', (payload) => this.heard(payload));
    for (const name of this.options.destinations.keys()) {
      for (let i = 0; i < this.options.delivery.parallelBatches; i++) this.workers.push(this.work(name));
    }
    const leaseMs = this.options.delivery.sendingLeaseSeconds * 1000;
    this.leaseKeeper = setInterval(() => {
      this.leaseRound ??= this.keepLeases().finally(() => (this.leaseRound = undefined));
    }, Math.max(100, Math.min(leaseMs / 3, 20_000)));
    this.leaseKeeper.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.halt.abort();
    this.unlisten?.();
    clearInterval(this.leaseKeeper);
    for (const name of this.wakeups.keys()) this.wake(name);
    await Promise.allSettled([...this.workers, this.leaseRound]);
    // Leases released: what a worker could not finish goes back to the queue now, for this relay's
    // next start or another relay, rather than when its lease would have lapsed.
    await this.repo.requeueOwnedBy(this.options.instanceName, this.options.now().toISOString())
      .catch((error: unknown) => this.options.log?.error({ err: error }, 'could not release delivery leases at stop'));
    await Promise.allSettled([...this.releases]);
    await Promise.allSettled([...this.options.destinations.values()].map((d) => d.close()));
  }

  /** Refreshes the per-destination queue-depth gauge (called when /metrics is scraped). */
  async updateQueueDepthMetric(): Promise<void> {
    const now = this.options.now().getTime();
    for (const name of this.options.destinations.keys()) {
      this.options.metrics.deliveryQueueDepth.set({ destination: name }, await this.repo.queueDepth(name));
      const oldest = await this.repo.oldestQueuedAt(name);
      this.options.metrics.deliveryOldestQueued.set({ destination: name }, oldest ? Math.max(0, (now - Date.parse(oldest)) / 1000) : 0);
    }
  }

  /**
   * The upload has arrived whole: batches of it being gathered (nextBatch) go now, and its data is
   * released once delivery is done everywhere.
   */
  studyAccepted(uploadId: string): void {
    this.announce();
    this.track(this.releaseIfDone(uploadId));
  }

  /** Failed instances of an upload are queued again. */
  async retryFailed(uploadId: string): Promise<number> {
    const count = await this.repo.retryFailed(uploadId, this.options.now().toISOString());
    this.announce();
    return count;
  }

  /**
   * Work for `names` (every destination when none are named): this relay's workers are woken now,
   * and every relay on the store is told (SignalsStore), so their workers need not wait for their
   * next look at the queue.
   */
  private announce(names?: readonly string[]): void {
    for (const name of names ?? this.options.destinations.keys()) this.wake(name);
    void this.options.store.signals.notify('deliveries', names ? JSON.stringify(names) : '');
  }

  /** Another relay (or this one) queued work: '' for any destination, else the JSON list of names. */
  private heard(payload: string): void {
    let names: unknown;
    try {
      names = payload === '' ? undefined : JSON.parse(payload);
    } catch {
      names = undefined;
    }
    const named = Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : [...this.options.destinations.keys()];
    for (const name of named) if (this.options.destinations.has(name)) this.wake(name);
  }

  private wake(name: string): void {
    for (const wake of [...(this.wakeups.get(name) ?? [])]) wake();
  }

  /**
   * The lease keeper, every third of delivery.sendingLeaseSeconds: it renews the leases of the items
   * this process's workers hold (however long the PACS takes), then requeues items whose lease lapsed,
   * whoever claimed them: a relay that died (one of several sharing the database), or a worker of this
   * one that lost its way (an outcome it could not record before stop, a bug), must not leave a study
   * 'forwarding' for good. The PACS stores by SOP Instance UID, so an item sent twice is stored once.
   */
  private async keepLeases(): Promise<void> {
    const now = this.options.now();
    try {
      const held = [...this.held.values()];
      if (held.length > 0) await this.repo.renewLeases(held, this.lease(now));
      const requeued = await this.repo.requeueLapsed(now.toISOString());
      if (requeued === 0) return;
      this.options.log?.warn({ requeued }, 'requeued deliveries whose sender stopped renewing its lease');
      this.announce();
    } catch (error) {
      // The database refuses writes for now (full, locked, gone): the next round tries again.
      this.options.log?.error({ err: error }, 'could not renew or requeue delivery leases');
    }
  }

  /**
   * Who records what a destination answered: only items still leased to this relay take it (a
   * relay that lost its lease while the database was out of reach must not overwrite the relay that
   * took the item over).
   */
  private get sender(): string {
    return this.options.instanceName;
  }

  /** This process's lease on what it claims or renews at `now`. */
  private lease(now: Date): DeliveryLease {
    return { owner: this.options.instanceName, until: new Date(now.getTime() + this.options.delivery.sendingLeaseSeconds * 1000).toISOString() };
  }

  private async work(name: string): Promise<void> {
    const destination = this.options.destinations.get(name)!;
    while (this.running) {
      try {
        const { batch, gatherMs } = await this.nextBatch(destination);
        if (batch.length === 0 || gatherMs > 0) {
          // Woken early when more instances are queued: the batch may be full by then.
          await this.sleep(name, batch.length === 0 ? undefined : gatherMs);
          continue;
        }
        await this.send(destination, batch);
      } catch (error) {
        // The database is gone (a PostgreSQL restart, a failover) or bookkeeping failed: back off
        // rather than spin, and never let the worker end: it goes on when the database is back.
        this.options.log?.error({ err: error, destination: name }, 'delivery worker failed');
        await delay(1000, undefined, { signal: this.halt.signal }).catch(() => undefined);
      }
    }
  }

  /**
   * Due items of one study, within the destination's batch limits, and how long to wait before
   * sending them (0: now). A batch waits, up to delivery.gatherMs after its first item became due,
   * only while it could still grow: not full, its study still arriving, no other study's items
   * waiting behind it, and not a retry.
   */
  private async nextBatch(destination: Destination): Promise<{ batch: DueItem[]; gatherMs: number }> {
    const { maxInstances, maxBytes } = destination.batchLimits;
    const now = this.options.now();
    const due = await this.repo.due(destination.name, now.toISOString(), maxInstances);
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
    const next = gatherMs === undefined ? await this.repo.nextDueAt(name) : undefined;
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

  private async send(destination: Destination, due: DueItem[]): Promise<void> {
    const started = this.options.now();
    const startedAt = started.toISOString();
    // Claimed in one step for the whole batch, not one per instance; should it fail, the items stay
    // queued. Another worker (of this relay or another) may have claimed some since they were
    // selected: only those claimed here are sent.
    const claimed = new Set((await this.options.store.deliveries.claimBatch(due, startedAt, this.lease(started))).map(itemKey));
    const batch = due.filter((item) => claimed.has(itemKey(item)));
    if (batch.length === 0) return;
    for (const item of batch) this.held.set(itemKey(item), { deliveryId: item.deliveryId, index: item.index });
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
    // Read over the pieces the database recorded, never one it did not (storage.ts).
    const pieces = await this.options.store.uploads.chunksOf(batch);
    const instances: InstanceToSend[] = batch.map((item, i) => ({
      sopInstanceUid: item.sopInstanceUid, sopClassUid: item.sopClassUid, transferSyntaxUid: item.transferSyntaxUid, size: item.size,
      open: () => storage.readRange(item.uploadId, item.index, pieces[i]!, 0, item.size),
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
      await this.commitDurably(async (tx, later) => {
        gaveUp = 0;
        for (const item of batch) if (!(await this.retry(tx, item, reason, retryAfter, later))) gaveUp++;
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
    await this.commitDurably(async (tx, later) => {
      stored = await this.recordOutcomes(tx, destination, batch, outcomes, now, later);
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
  private async recordOutcomes(tx: DeliveriesStore, destination: Destination, batch: DueItem[], outcomes: Map<string, InstanceOutcome>, now: string, later: Later): Promise<DueItem[]> {
    const stored: DueItem[] = [];
    // Items stored alike are recorded in one statement: a batch of small instances is one write, not
    // one per instance, while the unit of work holds the database's lock.
    const alike = new Map<string, { state: DeliveryItemState; warning: string | null; items: DueItem[] }>();
    for (const item of batch) {
      const outcome = outcomes.get(item.sopInstanceUid);
      if (!outcome) {
        await this.retry(tx, item, 'the destination did not acknowledge this instance', undefined, later);
      } else if (outcome.status === 'stored') {
        // A confirming destination keeps the item 'sending' until the check answers, so status never
        // shows 'delivered' for an instance about to become 'confirmed'.
        const state = this.confirms(destination) ? 'sending' : 'delivered';
        if (state === 'delivered' || outcome.warning) {
          const warning = outcome.warning ?? null;
          const key = `${state}\n${warning ?? ''}`;
          const group = alike.get(key) ?? { state, warning, items: [] };
          group.items.push(item);
          alike.set(key, group);
        }
        stored.push(item);
      } else if (outcome.permanent) {
        // One code in the row, in status and as the metric's label (protocol/delivery-failure-codes.ts).
        const code = outcome.code ?? 'REFUSED';
        await tx.setState([item], 'failed', now, { lastError: outcome.reason, failureCode: code, sender: this.sender });
        later(() => {
          this.countFailures(destination.name, code);
          this.options.events.publish(item.userId, { type: 'failed', uploadId: item.uploadId, instance: item.index, destination: destination.name, reason: outcome.reason });
        });
      } else {
        await this.retry(tx, item, outcome.reason, undefined, later);
      }
    }
    for (const { state, warning, items } of alike.values()) {
      await tx.setState(items, state, now, state === 'delivered' ? { warning, lastError: null, sender: this.sender } : { warning: warning!, sender: this.sender });
    }
    return stored;
  }

  private async confirm(destination: Destination, study: { uploadId: string; studyInstanceUid: string; serviceLevel: 'STAT' | 'ROUTINE' }, stored: DueItem[]): Promise<void> {
    const now = this.options.now().toISOString();
    if (!this.confirms(destination) || !destination.confirm) {
      for (const item of stored) this.options.events.publish(item.userId, { type: 'delivered', uploadId: item.uploadId, instance: item.index, destination: destination.name });
      return;
    }
    let present: Set<string>;
    try {
      present = await destination.confirm(study, stored.map((i) => i.sopInstanceUid));
    } catch (error) {
      this.options.log?.warn({ uploadId: study.uploadId, destination: destination.name, err: error }, 'confirmation query failed; instances stay delivered, unconfirmed');
      await this.commitDurably(async (tx) => {
        await tx.setState(stored, 'delivered', now, { warning: 'stored, but the confirmation query failed', lastError: null, sender: this.sender });
      });
      return;
    }
    await this.commitDurably((tx, later) => this.recordConfirmations(tx, destination, stored, present, now, later));
  }

  private async recordConfirmations(tx: DeliveriesStore, destination: Destination, stored: DueItem[], present: Set<string>, now: string, later: Later): Promise<void> {
    const confirmed = stored.filter((item) => present.has(item.sopInstanceUid));
    const unlisted = stored.filter((item) => !present.has(item.sopInstanceUid));
    await tx.setState(confirmed, 'confirmed', now, { lastError: null, sender: this.sender });
    await tx.setState(unlisted, 'delivered', now, { warning: 'stored, but the PACS does not list it yet', sender: this.sender });
    for (const item of stored) {
      const type = present.has(item.sopInstanceUid) ? 'confirmed' : 'delivered';
      later(() => this.options.events.publish(item.userId, { type, uploadId: item.uploadId, instance: item.index, destination: destination.name }));
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
  private async retry(tx: DeliveriesStore, item: DueItem, reason: string, retryAfterSeconds: number | undefined, later: Later): Promise<boolean> {
    const { initialBackoffSeconds, maxBackoffSeconds, maxAttempts } = this.options.delivery;
    if (maxAttempts !== undefined && item.attempts + 1 >= maxAttempts) {
      await tx.giveUp(item.deliveryId, item.index, `gave up after ${item.attempts + 1} attempts: ${reason}`, this.options.now().toISOString(), this.sender);
      later(() => {
        this.countFailures(item.destination, 'ATTEMPTS_EXHAUSTED');
        this.options.events.publish(item.userId, { type: 'failed', uploadId: item.uploadId, instance: item.index, destination: item.destination, reason });
      });
      return false;
    }
    const exponential = Math.min(maxBackoffSeconds, initialBackoffSeconds * 2 ** item.attempts);
    // Full jitter on the upper half, so many relays retrying one PACS don't do so in step.
    const delay = Math.max(retryAfterSeconds ?? 0, exponential * (0.5 + Math.random() * 0.5));
    const now = this.options.now();
    await tx.retryLater(item.deliveryId, item.index, new Date(now.getTime() + delay * 1000).toISOString(), reason, now.toISOString(), this.sender);
    return true;
  }

  /** Records PACS-held instances for later duplicate detection and frees data no one needs any more. */
  private async afterBatch(batch: DueItem[]): Promise<void> {
    const now = this.options.now().toISOString();
    // Tried until recorded too: the release below is what frees the study's space.
    await this.commitDurably(async (tx) => {
      const everywhere = await tx.deliveredEverywhere(batch);
      await tx.markDelivered(batch.filter((item) => everywhere.has(`${item.uploadId}/${item.index}`)), now);
    });
    for (const uploadId of new Set(batch.map((item) => item.uploadId))) this.track(this.releaseIfDone(uploadId));
  }

  /**
   * One audit row per destination once an accepted upload's delivery there is final (every
   * instance delivered, or some failed for good); a retry that changes the outcome adds a row.
   */
  private async auditFinishedDeliveries(uploadId: string): Promise<void> {
    const study = await this.options.store.uploads.find(uploadId);
    if (study?.state !== 'accepted') return;
    const items = await this.repo.itemsOf(uploadId);
    for (const destination of new Set(items.map((i) => i.destination))) {
      const mine = items.filter((i) => i.destination === destination);
      if (mine.some((i) => i.state === 'queued' || i.state === 'sending')) continue;
      const failed = mine.filter((i) => i.state === 'failed').length;
      const target = `upload ${uploadId} study ${study.studyInstanceUid} to ${destination}`;
      const outcome = failed === 0 ? `delivered ${mine.length}` : `delivered ${mine.length - failed}, failed ${failed}`;
      const first = await this.options.store.audit.recordOnce({ action: 'delivery', actorUserId: study.userId, address: null, target, outcome });
      // Observed once across relays: by the one whose audit row was written.
      if (first && failed === 0) {
        this.options.metrics.studyTimeToPacs.observe({ destination, service_level: study.serviceLevel }, Math.max(0, this.options.now().getTime() - Date.parse(study.createdAt)) / 1000);
      }
      if (failed < mine.length) await this.options.onDestinationDelivered?.({ uploadId, destination, studyInstanceUid: study.studyInstanceUid, userId: study.userId });
    }
    await this.countFinishedStudy(study, items);
  }

  /** relaypacs_studies_total, once per study across relays: when its delivery has ended everywhere (an audit row of its own says so). */
  private async countFinishedStudy(study: UploadRecord, items: readonly DeliveryItemStatus[]): Promise<void> {
    if (items.length === 0 || items.some((i) => i.state === 'queued' || i.state === 'sending')) return;
    const failed = items.filter((i) => i.state === 'failed').length;
    const outcome = failed === 0 ? 'delivered' : 'failed';
    const target = `upload ${study.id} study ${study.studyInstanceUid}`;
    if (!(await this.options.store.audit.recordOnce({ action: 'delivery', actorUserId: study.userId, address: null, target, outcome: `study ${outcome}` }))) return;
    const facts = await this.options.store.uploads.routingFacts(study.id, 0);
    const facility = facts?.facility ? (this.options.metricFacilities?.has(facts.facility) ? facts.facility : 'other') : 'none';
    this.options.metrics.studiesFinished.inc({ outcome, modality: metricModality(study.modality), facility });
  }

  private inOneCommit(write: (tx: DeliveriesStore) => Promise<void>): Promise<void> {
    return this.options.store.withTransaction((tx) => write(tx.deliveries));
  }

  /**
   * One commit recording what a destination answered, tried again until it succeeds or the queue
   * stops: the PACS has acted, and a commit that failed (SQLITE_FULL on a full disk, SQLITE_BUSY)
   * and was only logged left its items 'sending' with no worker until a restart. The waits grow
   * from 100 ms to 5 s. Events and metrics (given to `later`) follow the commit that succeeded, so
   * a failed try announces nothing. Stopped meanwhile, it throws: the items stay 'sending' and the
   * next start queues them again.
   */
  private async commitDurably(write: (tx: DeliveriesStore, later: Later) => Promise<void>): Promise<void> {
    await this.untilRecorded(async () => {
      let notices: (() => void)[] = [];
      await this.inOneCommit((tx) => {
        // Only the try that commits announces: a backend may run a unit of work again.
        notices = [];
        return write(tx, (notice) => notices.push(notice));
      });
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
    const upload = await this.options.store.uploads.find(uploadId);
    if (upload?.state !== 'accepted' || !(await this.repo.allFinal(uploadId))) return false;
    const failed = (await this.repo.itemsOf(uploadId)).some((i) => i.state === 'failed');
    // Verified but unrouted instances, and instances whose verification was cut short, still need the data.
    if (failed || (await this.repo.unqueuedInstances(uploadId)) > 0) return false;
    await this.options.storage.deleteUpload(uploadId);
    this.options.events.publish(upload.userId, { type: 'delivered', uploadId });
    this.options.log?.info({ uploadId }, 'study delivered everywhere; temporary data deleted');
    return true;
  }
}

/** Defers a notification (event, metric) until the commit it belongs to has succeeded. */
type Later = (notice: () => void) => void;

const itemKey = (item: DeliveryItemKey): string => `${item.deliveryId}/${item.index}`;


/** Modalities with a label of their own on relaypacs_studies_total (PS3.3 C.7.3.1.1.1); any other is "other". */
const METRIC_MODALITIES = new Set(['CT', 'MR', 'CR', 'DX', 'MG', 'US', 'NM', 'PT', 'XA', 'RF', 'RG', 'IO', 'PX', 'OP', 'ES', 'XC', 'SR', 'DOC', 'OT', 'SC']);

function metricModality(modality: string | null): string {
  if (!modality) return 'unknown';
  const upper = modality.trim().toUpperCase();
  return METRIC_MODALITIES.has(upper) ? upper : 'other';
}
