import type { RelayEvent } from '../protocol/event-protocol.js';
import type { EventsStore, NewEvent, StoredEvent } from '../store/events-store.js';
import type { SignalsStore } from '../store/signals-store.js';
import { EventFanOut, type EventListener } from './event-fan-out.js';

export type { RelayEvent } from '../protocol/event-protocol.js';

/**
 * Where upload events go, from the services that cause them to the event streams (GET /events) of
 * the upload's owner and of admins, on this relay and on every relay sharing its database. The
 * publisher names the owner, so nothing is looked up per event. Events are published after the
 * commit that made them true, never before: a subscriber told "verified" finds the instance verified.
 * server/test/ops/event-bus-contract.ts holds the contract.
 */
export interface RelayEventBus {
  /** Delivers the event, in the order published, to the owner's subscribers and every 'all' subscriber. Never throws, never waits. */
  publish(ownerUserId: number, event: RelayEvent): void;
  /** Subscribes to one user's upload events (or every upload's, for `'all'`); returns the unsubscribe. */
  subscribe(scope: number | 'all', listener: EventListener): () => void;
  /**
   * The events after `afterId` still kept, oldest first, at most `limit`; `gap` when some after it
   * are no longer kept (or more than `limit` are), so the client must resync from status.
   */
  replay(scope: number | 'all', afterId: number, limit: number): Promise<{ events: StoredEvent[]; gap: boolean }>;
  /** Stops looking for events; what was published is kept first. */
  close(): Promise<void>;
}

export interface StoredEventBusOptions {
  events: EventsStore;
  /** Where this relay says it kept events, and hears that another did (looked for at once, not at the next poll). */
  signals?: SignalsStore;
  now: () => Date;
  /** How often events kept by other relays are looked for, in case a signal was lost; this relay's own are handed on at once. */
  pollMilliseconds: number;
  /** The newest events kept for replay (events.retainCount). */
  retain: number;
  log?: () => { error(obj: object, msg: string): void } | undefined;
}

/** Events read per query when handing them on. */
const PAGE = 500;
/** Pages per round at most: a round never runs without bound, the next poll goes on. */
const MAX_PAGES_PER_ROUND = 20;
/** Appends between two prunes of the kept events. */
const PRUNE_EVERY = 1000;
/** Events kept in one write at most. */
const KEEP_BATCH = 500;
/** The wait before trying again to keep events the database refused. */
const RETRY_KEEP_MS = 1000;
/**
 * How long the first event of a quiet moment waits for others before they are kept together: a
 * small instance causes three or four events within milliseconds, and each write is a commit the
 * database syncs (on PostgreSQL, next to the chunks' commits). Subscribers hear of events this much later.
 */
const KEEP_GATHER_MS = 10;
/**
 * Events waiting to be kept at most. While the database is out of reach each append waits for it,
 * and publishers do not wait: beyond this, events are dropped (and counted in the log), since they
 * are cues, and every client takes the state from status when it resyncs.
 */
export const MAX_PENDING_EVENTS = 10_000;

/**
 * The bus of a relay, one or many: every event is kept (EventsStore), and subscribers get events
 * by reading what was kept, in id order, whichever relay kept them. A relay reads at once after
 * each event it publishes, when another relay signals that it kept some (SignalsStore: LISTEN/NOTIFY
 * on PostgreSQL), and every `pollMilliseconds` whatever happens, in case a signal was lost. Keeping first and reading second gives every subscriber, here or on another
 * relay, the same order and the ids a reconnecting client resumes from (Last-Event-ID).
 */
export class StoredEventBus implements RelayEventBus {
  private readonly fanOut: EventFanOut;
  /** The newest id handed on to subscribers. */
  private handedOn = 0;
  /** Published and not yet kept, oldest first. */
  private readonly queue: NewEvent[] = [];
  /** The keeping of the queue under way, if any. */
  private appending: Promise<void> | undefined;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private appendsSincePrune = 0;
  /** Events dropped since the last one kept: logged once when keeping resumes. */
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => void) | undefined;
  private closed = false;

  private constructor(private readonly options: StoredEventBusOptions) {
    this.fanOut = new EventFanOut((error) => this.options.log?.()?.error({ err: error }, 'an event listener failed'));
  }

  /** Starts after the newest event kept: subscribers get what happens from now on (replay gives the past). */
  static async open(options: StoredEventBusOptions): Promise<StoredEventBus> {
    const bus = new StoredEventBus(options);
    bus.handedOn = await options.events.latestId();
    bus.timer = setInterval(() => void bus.read(), options.pollMilliseconds);
    bus.timer.unref();
    bus.unlisten = options.signals?.listen('events', () => void bus.read());
    return bus;
  }

  publish(ownerUserId: number, event: RelayEvent): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_PENDING_EVENTS) {
      if (this.dropped++ === 0) this.options.log?.()?.error({ pending: this.queue.length }, 'upload events are not being kept (the database does not answer): dropping them until it does');
      return;
    }
    this.queue.push({ ownerUserId, event });
    this.appending ??= this.keepQueued().finally(() => (this.appending = undefined));
  }

  /**
   * Keeps what was published, in order, in batches (one write for up to KEEP_BATCH events: events
   * come a few per instance, and each write is a commit the database syncs), then hands on what
   * was kept. Runs until the queue is empty; publish starts it again.
   */
  private async keepQueued(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, KEEP_GATHER_MS));
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, KEEP_BATCH);
      let ids: number[];
      try {
        ids = await this.options.events.append(batch, this.options.now().toISOString());
        this.queue.splice(0, batch.length);
        if (this.dropped > 0) {
          this.options.log?.()?.error({ dropped: this.dropped }, 'upload events are kept again; some were dropped meanwhile');
          this.dropped = 0;
        }
        this.appendsSincePrune += batch.length;
      } catch (error) {
        // The database does not answer: the batch stays queued (bounded by MAX_PENDING_EVENTS) and
        // is tried again shortly, unless the bus is closing.
        this.options.log?.()?.error({ err: error, events: batch.length }, 'upload events could not be kept; trying again');
        if (this.closed) return;
        await new Promise((resolve) => setTimeout(resolve, RETRY_KEEP_MS));
        continue;
      }
      void this.options.signals?.notify('events', '');
      if (!this.handOnKept(batch, ids)) await this.read();
      // Pruned only once this relay handed on what it kept: the retained events (events.retainCount,
      // 100,000 by default) cover the other relays' polls and the clients' reconnections.
      if (this.appendsSincePrune >= PRUNE_EVERY) {
        this.appendsSincePrune = 0;
        await this.options.events.prune(this.options.retain).catch((error: unknown) => this.options.log?.()?.error({ err: error }, 'kept events could not be pruned'));
      }
    }
  }

  subscribe(scope: number | 'all', listener: EventListener): () => void {
    return this.fanOut.subscribe(scope, listener);
  }

  async replay(scope: number | 'all', afterId: number, limit: number): Promise<{ events: StoredEvent[]; gap: boolean }> {
    const [events, oldest, latest] = await Promise.all([
      this.options.events.after(afterId, scope, limit + 1),
      this.options.events.oldestId(),
      this.options.events.latestId(),
    ]);
    const pruned = oldest === undefined ? latest > afterId : oldest > afterId + 1;
    // An id this relay never gave (a database recreated, a client that met another service): the
    // client knows nothing we can continue from, and must take its state from status.
    const unknown = afterId > latest;
    return { events: events.slice(0, limit), gap: pruned || unknown || events.length > limit };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.unlisten?.();
    await this.appending;
    await this.reading;
  }

  /**
   * Hands on the batch this relay just kept without reading it back, when nothing can come before
   * it: its ids follow the last one handed on without a gap (no other relay kept events meanwhile;
   * ids commit in order) and no read is under way. Answers whether it did; if not, read().
   */
  private handOnKept(batch: readonly NewEvent[], ids: readonly number[]): boolean {
    if (this.reading || ids.length !== batch.length || ids.some((id, i) => id !== this.handedOn + 1 + i)) return false;
    for (const [i, { ownerUserId, event }] of batch.entries()) {
      this.handedOn = ids[i]!;
      this.fanOut.emit(ownerUserId, event, ids[i]!);
    }
    return true;
  }

  /** Hands on what was kept since the last read; a read asked for while one runs runs again after it. */
  private read(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.readAgain = false;
        for (let page = 0; page < MAX_PAGES_PER_ROUND; page++) {
          const batch = await this.options.events.after(this.handedOn, 'all', PAGE);
          for (const stored of batch) {
            this.handedOn = stored.id;
            this.fanOut.emit(stored.ownerUserId, stored.event, stored.id);
          }
          if (batch.length < PAGE) break;
        }
      } while (this.readAgain && !this.closed);
    })()
      .catch((error: unknown) => this.options.log?.()?.error({ err: error }, 'upload events could not be read'))
      .finally(() => (this.reading = undefined));
    return this.reading;
  }
}
