import type { RelayEvent } from '../protocol/event-protocol.js';
import type { EventsStore, StoredEvent } from '../store/events-store.js';
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
  now: () => Date;
  /** How often events kept by other relays are looked for; this relay's own are handed on at once. */
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
/**
 * Events waiting to be kept at most. While the database is out of reach each append waits for it,
 * and publishers do not wait: beyond this, events are dropped (and counted in the log), since they
 * are cues, and every client takes the state from status when it resyncs.
 */
export const MAX_PENDING_EVENTS = 10_000;

/**
 * The bus of a relay, one or many: every event is kept (EventsStore), and subscribers get events
 * by reading what was kept, in id order, whichever relay kept them. A relay reads at once after
 * each event it publishes, and every `pollMilliseconds` for the others' (a PostgreSQL LISTEN could
 * wake it sooner). Keeping first and reading second gives every subscriber, here or on another
 * relay, the same order and the ids a reconnecting client resumes from (Last-Event-ID).
 */
export class StoredEventBus implements RelayEventBus {
  private readonly fanOut: EventFanOut;
  /** The newest id handed on to subscribers. */
  private handedOn = 0;
  private appending: Promise<void> = Promise.resolve();
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private appendsSincePrune = 0;
  /** Events published and not yet kept (or failed to be kept). */
  private pending = 0;
  /** Events dropped since the last one kept: logged once when keeping resumes. */
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;
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
    return bus;
  }

  publish(ownerUserId: number, event: RelayEvent): void {
    if (this.closed) return;
    if (this.pending >= MAX_PENDING_EVENTS) {
      if (this.dropped++ === 0) this.options.log?.()?.error({ pending: this.pending }, 'upload events are not being kept (the database does not answer): dropping them until it does');
      return;
    }
    this.pending++;
    // Appends follow one another, so this relay's events are kept in the order published.
    this.appending = this.appending
      .then(async () => {
        await this.options.events.append(ownerUserId, event, this.options.now().toISOString());
        if (this.dropped > 0) {
          this.options.log?.()?.error({ dropped: this.dropped }, 'upload events are kept again; some were dropped meanwhile');
          this.dropped = 0;
        }
        if (++this.appendsSincePrune >= PRUNE_EVERY) {
          this.appendsSincePrune = 0;
          await this.options.events.prune(this.options.retain);
        }
      })
      .catch((error: unknown) => this.options.log?.()?.error({ err: error, type: event.type }, 'an upload event could not be kept'))
      .finally(() => this.pending--)
      .then(() => this.read());
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
    await this.appending;
    await this.reading;
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
