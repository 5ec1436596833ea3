// The relay's event bus on the SQLite store: the bus contract, plus replay for clients that were
// away (Last-Event-ID) and events crossing between relays that share one database.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_PENDING_EVENTS, StoredEventBus, type RelayEventBus } from '../../src/ops/relay-events.js';
import type { RelayEvent } from '../../src/protocol/event-protocol.js';
import type { NewEvent } from '../../src/store/events-store.js';
import { openTempSqliteStore, type TempSqliteStore } from '../store/sqlite-temp-store.js';
import { describeEventBusContract } from './event-bus-contract.js';

const accepted = (uploadId: string): RelayEvent => ({ type: 'accepted', uploadId });
const busOn = (temp: TempSqliteStore, retain = 1000) => StoredEventBus.open({ events: temp.store.events, now: () => new Date(), pollMilliseconds: 50, retain });

const opened: (TempSqliteStore | RelayEventBus)[] = [];
async function closeAll(): Promise<void> {
  for (const thing of opened.splice(0).reverse()) await ('dispose' in thing ? thing.dispose() : thing.close());
}

describeEventBusContract('StoredEventBus (SQLite)', async () => {
  const temp = await openTempSqliteStore();
  const bus = await busOn(temp);
  opened.push(temp, bus);
  return bus;
});
afterEach(closeAll);

describe('StoredEventBus', () => {
  let temp: TempSqliteStore;
  beforeEach(async () => {
    temp = await openTempSqliteStore();
    opened.push(temp);
  });

  it('numbers events with increasing ids and replays those after an id, per owner or for all', async () => {
    const bus = await busOn(temp);
    opened.push(bus);
    const ids: number[] = [];
    bus.subscribe('all', (_event, id) => ids.push(id));
    bus.publish(1, accepted('a'));
    bus.publish(2, accepted('b'));
    bus.publish(1, accepted('c'));
    await vi.waitFor(() => expect(ids).toHaveLength(3));
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    const replayed = await bus.replay(1, ids[0]!, 100);
    expect(replayed).toMatchObject({ gap: false, events: [{ id: ids[2], ownerUserId: 1, event: accepted('c') }] });
    expect((await bus.replay('all', 0, 100)).events.map((e) => e.event)).toEqual([accepted('a'), accepted('b'), accepted('c')]);
    // More missed than the limit: the client is told to resync, and given the oldest it missed.
    expect(await bus.replay('all', 0, 2)).toMatchObject({ gap: true, events: [{ id: ids[0] }, { id: ids[1] }] });
  });

  it('tells a client that asks for events no longer kept to resync', async () => {
    const bus = await busOn(temp);
    opened.push(bus);
    await temp.store.events.append(Array.from({ length: 5 }, (_, i) => ({ ownerUserId: 1, event: accepted(`u${i}`) })), new Date().toISOString());
    expect(await temp.store.events.prune(2)).toBe(3);
    const kept = await bus.replay('all', 0, 100);
    expect(kept.gap).toBe(true);
    expect(kept.events.map((e) => e.event)).toEqual([accepted('u3'), accepted('u4')]);
    expect((await bus.replay('all', kept.events[0]!.id - 1, 100)).gap).toBe(false);
    // Everything pruned: still a gap for an id before the last, none for the last itself.
    await temp.store.events.prune(0);
    expect((await bus.replay('all', 1, 100)).gap).toBe(true);
    expect(await bus.replay('all', await temp.store.events.latestId(), 100)).toEqual({ gap: false, events: [] });
    // An id never given (another database's): nothing to continue from.
    expect(await bus.replay('all', (await temp.store.events.latestId()) + 1000, 100)).toEqual({ gap: true, events: [] });
  });

  it('hands each relay\'s events to the subscribers of every relay sharing the database, in one order', async () => {
    const relayA = await busOn(temp);
    const relayB = await busOn(temp);
    opened.push(relayA, relayB);
    const onA: string[] = [];
    const onB: string[] = [];
    relayA.subscribe(1, (event) => onA.push(event.uploadId));
    relayB.subscribe('all', (event) => onB.push(event.uploadId));
    relayA.publish(1, accepted('from-a'));
    relayB.publish(1, accepted('from-b'));
    relayA.publish(2, accepted('not-for-1'));
    await vi.waitFor(() => expect(onB).toHaveLength(3));
    await vi.waitFor(() => expect(onA).toHaveLength(2));
    expect(onA).toEqual(onB.filter((id) => id !== 'not-for-1'));
    // A relay opened later starts after what was kept: it hands on only what follows.
    const relayC = await busOn(temp);
    opened.push(relayC);
    const onC: string[] = [];
    relayC.subscribe('all', (event) => onC.push(event.uploadId));
    relayA.publish(1, accepted('later'));
    await vi.waitFor(() => expect(onC).toEqual(['later']));
  });

  it('keeps only the newest events, pruning as it goes', async () => {
    const bus = await busOn(temp, 100);
    opened.push(bus);
    let seen = 0;
    bus.subscribe('all', () => seen++);
    for (let i = 0; i < 1100; i++) bus.publish(1, accepted(`u${i}`));
    await vi.waitFor(() => expect(seen).toBe(1100), { timeout: 10_000 });
    const kept = await temp.store.events.after(0, 'all', 10_000);
    expect(kept.length).toBeLessThanOrEqual(1100 - 1000 + 100);
    expect(kept.at(-1)?.event).toEqual(accepted('u1099'));
  });

  it('keeps at most MAX_PENDING_EVENTS waiting while the database does not answer, and drops the rest', async () => {
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const appended: string[] = [];
    const events = {
      ...temp.store.events,
      append: async (entries: readonly NewEvent[], at: string) => {
        await blocked;
        appended.push(...entries.map((e) => e.event.uploadId));
        return temp.store.events.append(entries, at);
      },
    };
    const errors: string[] = [];
    const bus = await StoredEventBus.open({ events, now: () => new Date(), pollMilliseconds: 50, retain: 100_000, log: () => ({ error: (_obj, msg) => errors.push(msg) }) });
    opened.push(bus);
    for (let i = 0; i < MAX_PENDING_EVENTS + 500; i++) bus.publish(1, accepted(`u${i}`));
    expect(errors).toHaveLength(1); // said once, not 500 times
    release();
    await vi.waitFor(() => expect(appended).toHaveLength(MAX_PENDING_EVENTS), { timeout: 30_000 });
    expect(appended.at(-1)).toBe(`u${MAX_PENDING_EVENTS - 1}`);
    bus.publish(1, accepted('after'));
    await vi.waitFor(() => expect(appended.at(-1)).toBe('after'));
    await vi.waitFor(() => expect(errors.at(-1)).toMatch(/kept again/));
  }, 60_000);
});
