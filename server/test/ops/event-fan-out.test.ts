// The fan-out inside one relay process: synchronous, and a listener's error goes to its hook.
import { describe, expect, it } from 'vitest';
import { EventFanOut } from '../../src/ops/event-fan-out.js';
import type { RelayEvent } from '../../src/protocol/event-protocol.js';

describe('EventFanOut', () => {
  it('delivers before emit returns, with the id, to the owner and to every \'all\' subscriber', () => {
    const fanOut = new EventFanOut();
    const seen: [string, RelayEvent, number][] = [];
    fanOut.subscribe(1, (event, id) => seen.push(['owner', event, id]));
    fanOut.subscribe(2, (event, id) => seen.push(['other', event, id]));
    fanOut.subscribe('all', (event, id) => seen.push(['all', event, id]));
    fanOut.emit(1, { type: 'accepted', uploadId: 'u1' }, 41);
    expect(seen).toEqual([['owner', { type: 'accepted', uploadId: 'u1' }, 41], ['all', { type: 'accepted', uploadId: 'u1' }, 41]]);
  });

  it('hands a listener\'s error to its hook and goes on to the others', () => {
    const errors: unknown[] = [];
    const fanOut = new EventFanOut((error) => errors.push(error));
    const failure = new Error('a broken stream');
    fanOut.subscribe('all', () => {
      throw failure;
    });
    const after: number[] = [];
    fanOut.subscribe('all', (_event, id) => after.push(id));
    fanOut.emit(1, { type: 'accepted', uploadId: 'u1' }, 1);
    expect(errors).toEqual([failure]);
    expect(after).toEqual([1]);
  });
});
