// The event bus contract on the bus inside one relay process, plus what only it has: synchronous
// delivery and the hook that hears a listener's error.
import { describe, expect, it } from 'vitest';
import { InProcessEventBus, type RelayEvent } from '../../src/ops/relay-events.js';
import { describeEventBusContract } from './event-bus-contract.js';

describeEventBusContract('InProcessEventBus', () => new InProcessEventBus());

describe('InProcessEventBus', () => {
  it('delivers before publish returns', () => {
    const bus = new InProcessEventBus();
    const seen: RelayEvent[] = [];
    bus.subscribe(1, (event) => seen.push(event));
    bus.publish(1, { type: 'accepted', uploadId: 'u1' });
    expect(seen).toEqual([{ type: 'accepted', uploadId: 'u1' }]);
  });

  it('hands a listener\'s error to onListenerError', () => {
    const errors: unknown[] = [];
    const bus = new InProcessEventBus((error) => errors.push(error));
    const failure = new Error('a broken stream');
    bus.subscribe('all', () => {
      throw failure;
    });
    bus.publish(1, { type: 'accepted', uploadId: 'u1' });
    expect(errors).toEqual([failure]);
  });
});
