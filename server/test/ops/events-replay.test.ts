// GET /events with Last-Event-ID: a client that was away gets what it missed, then the live events,
// none twice; one that missed events no longer kept is told to resync from status.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RelayEvent } from '../../src/protocol/event-protocol.js';
import { openStream, type ServerSentEvent } from '../support/event-stream.js';
import { startTestRelay, type TestRelay } from '../support/test-relay.js';

let relay: TestRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

const accepted = (uploadId: string): RelayEvent => ({ type: 'accepted', uploadId });
const uploadIds = (events: ServerSentEvent[]) => events.map((e) => (JSON.parse(e.data) as { uploadId?: string }).uploadId ?? e.type);

describe('GET /events with Last-Event-ID', () => {
  it('replays what a reconnecting client missed, then goes on live, each event once', async () => {
    relay = await startTestRelay();
    const token = await relay.tokenFor('radiographer', 'rad');
    const userId = (await relay.services.store.users.findByUsername('rad'))!.id;
    const first = openStream(relay.url, token);
    await new Promise((resolve) => setTimeout(resolve, 200));
    relay.services.events.publish(userId, accepted('u1'));
    relay.services.events.publish(userId + 1000, accepted('someone-else'));
    await vi.waitFor(() => expect(uploadIds(first.events)).toEqual(['u1']));
    const resumeFrom = first.events[0]!.lastEventId;
    expect(Number(resumeFrom)).toBeGreaterThan(0);
    first.close();
    // Away: two events happen meanwhile.
    relay.services.events.publish(userId, accepted('u2'));
    relay.services.events.publish(userId, accepted('u3'));
    await vi.waitFor(async () => expect((await relay!.services.store.events.after(Number(resumeFrom), userId, 10)).length).toBe(2));
    const second = openStream(relay.url, token, resumeFrom);
    await vi.waitFor(() => expect(uploadIds(second.events)).toEqual(['u2', 'u3']));
    relay.services.events.publish(userId, accepted('u4'));
    await vi.waitFor(() => expect(uploadIds(second.events)).toEqual(['u2', 'u3', 'u4']));
    const ids = second.events.map((e) => Number(e.lastEventId));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    second.close();
  });

  it('tells a client whose missed events are no longer kept to resync, then sends what is kept', async () => {
    relay = await startTestRelay();
    const token = await relay.tokenFor('radiographer', 'rad');
    const userId = (await relay.services.store.users.findByUsername('rad'))!.id;
    for (let i = 0; i < 5; i++) relay.services.events.publish(userId, accepted(`u${i}`));
    await vi.waitFor(async () => expect(await relay!.services.store.events.latestId()).toBeGreaterThanOrEqual(5));
    await relay.services.store.events.prune(2);
    const stream = openStream(relay.url, token, '1');
    await vi.waitFor(() => expect(uploadIds(stream.events)).toEqual(['resync', 'u3', 'u4']));
    stream.close();
  });

  it('tells a client resuming from an id this relay never gave to resync, and goes on with the live events', async () => {
    relay = await startTestRelay();
    const token = await relay.tokenFor('radiographer', 'rad');
    const userId = (await relay.services.store.users.findByUsername('rad'))!.id;
    const stream = openStream(relay.url, token, '999999');
    await vi.waitFor(() => expect(uploadIds(stream.events)).toEqual(['resync']));
    relay.services.events.publish(userId, accepted('after-resync'));
    await vi.waitFor(() => expect(uploadIds(stream.events)).toEqual(['resync', 'after-resync']));
    stream.close();
  });
});
