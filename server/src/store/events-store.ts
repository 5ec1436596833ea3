import type { RelayEvent } from '../protocol/event-protocol.js';

/** An event as kept: its id (increasing, never reused), the owner of its upload, when it was kept. */
export interface StoredEvent {
  id: number;
  ownerUserId: number;
  event: RelayEvent;
  at: string;
}

export interface NewEvent {
  ownerUserId: number;
  event: RelayEvent;
}

/**
 * The relay's recent upload events, kept so a client that was away (asleep, offline, its relay
 * restarted, or served by another relay behind the balancer) gets what it missed on reconnect
 * (Last-Event-ID), and so every relay sharing the database hears every relay's events. Bounded:
 * prune keeps the newest.
 */
export interface EventsStore {
  /**
   * Keeps events, in the order given, as one write (one commit for many: events come in bursts, a
   * few per instance); answers their ids, each greater than every id answered before, on any relay.
   */
  append(entries: readonly NewEvent[], at: string): Promise<number[]>;
  /** Events after `afterId`, oldest first, at most `limit`: the owner's, or everyone's for 'all'. */
  after(afterId: number, scope: number | 'all', limit: number): Promise<StoredEvent[]>;
  /** The newest id kept or pruned (0 before the first event): where a new listener starts. */
  latestId(): Promise<number>;
  /** The oldest id still kept, undefined when none is. */
  oldestId(): Promise<number | undefined>;
  /** Forgets all but the newest `keep` events; answers how many went. */
  prune(keep: number): Promise<number>;
}
