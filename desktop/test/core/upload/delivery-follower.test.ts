// The delivery follower against a fake relay: an event fetches the status at once (no poll waited for), it
// stops when every instance is final, and it writes an instance to the catalog only when what the relay says of it changed.
import { describe, expect, it } from 'vitest';
import type { UploadStatus } from '../../../../server/src/protocol/upload-protocol.js';
import { DeliveryFollower } from '../../../src/core/upload/delivery-follower.js';
import type { UploadEventNotice, UploadEventSource } from '../../../src/core/upload/relay-event-stream.js';

function status(...deliveryStates: string[]): UploadStatus {
  return {
    uploadId: 'u1', state: 'accepted', serviceLevel: 'ROUTINE', expiresAt: '', totalBytes: 20, receivedBytes: 20, deliveries: [],
    instances: deliveryStates.map((deliveryState, index) => ({
      index, sopInstanceUid: `1.2.${index}`, size: 10, receivedBytes: 10, contiguousBytes: 10, missing: [], state: 'verified' as UploadStatus['instances'][number]['state'],
      deliveryState, destinations: [],
    })),
  };
}

/** An open event stream whose events the test sends. */
function fakeEvents() {
  let listener: ((notice: UploadEventNotice) => void) | undefined;
  const source: UploadEventSource = {
    connected: true,
    subscribe: (_uploadId, l) => {
      listener = l;
      return () => {
        listener = undefined;
      };
    },
  };
  return { source, emit: () => listener?.({ kind: 'event', event: {} as never }), subscribed: () => listener !== undefined };
}

describe('delivery follower', () => {
  it('fetches the status on each event until every instance is final, writing only what changed', async () => {
    const answers = [status('sending', 'queued'), status('delivered', 'queued'), status('delivered', 'failed')];
    const fetched: number[] = [];
    const events = fakeEvents();
    const writes: string[] = [];
    let transactions = 0;
    const follower = new DeliveryFollower({
      client: { status: async () => answers[fetched.push(fetched.length) - 1]! },
      instances: { setInstanceProgress: (_job, sop, _bytes, state) => writes.push(`${sop} ${state}`) },
      transaction: (write) => {
        transactions++;
        write();
      },
      events: events.source, pollIntervalMs: 60_000, connectedPollIntervalMs: 60_000,
    });
    const first = status('queued', 'queued');
    follower.record(7, first);
    const following = follower.follow(7, { uploadId: 'u1', uploadToken: 't1' }, first);
    // An open stream: the first status is fetched at once (an event may have been missed before subscribing).
    for (let i = 0; i < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      events.emit();
    }
    const final = await following;
    expect(final.instances.map((i) => i.deliveryState)).toEqual(['delivered', 'failed']);
    expect(fetched).toHaveLength(3);
    expect(events.subscribed()).toBe(false);
    expect(transactions).toBe(4);
    expect(writes).toEqual(['1.2.0 queued', '1.2.1 queued', '1.2.0 sending', '1.2.0 delivered', '1.2.1 failed']);
  });

  it('returns a finished status without subscribing or fetching', async () => {
    const events = fakeEvents();
    const follower = new DeliveryFollower({
      client: { status: async () => { throw new Error('not asked'); } }, instances: { setInstanceProgress: () => {} }, transaction: (write) => write(),
      events: events.source,
    });
    const done = status('delivered', 'unrouted');
    expect(await follower.follow(1, { uploadId: 'u1', uploadToken: 't1' }, done)).toBe(done);
    expect(events.subscribed()).toBe(false);
  });
});
