// How the engine tunes itself to its link: unchanged on a sound one; on a lossy one smaller chunks,
// more connections, a shorter stall time; back again after a long run of successes.
import { describe, expect, it } from 'vitest';
import { LinkTuning } from '../../../src/core/upload/link-tuning.js';
import { RangeQueue } from '../../../src/core/upload/range-queue.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const relayChunks = { minBytes: 64 * KiB, maxBytes: 64 * MiB, preferredBytes: 8 * MiB };
const tuning = () => new LinkTuning({ parallel: 4, maxParallel: 16, stallMs: 10_000, lossyStallMs: 5_000, calmAfter: 8 }, relayChunks);

describe('link tuning', () => {
  it('keeps its settings on a sound link, growing chunks as before (double after four successes)', () => {
    const link = tuning();
    expect([link.parallel, link.stallMs, link.sizer.current]).toEqual([4, 10_000, 8 * MiB]);
    for (let i = 0; i < 8; i++) link.succeeded();
    expect([link.parallel, link.stallMs, link.sizer.current]).toEqual([4, 10_000, 32 * MiB]);
  });

  it('on lost connections halves the chunk down to the relay minimum, doubles connections up to the most, and shortens the stall time', () => {
    const link = tuning();
    link.connectionLost();
    expect([link.parallel, link.stallMs, link.sizer.current]).toEqual([8, 5_000, 4 * MiB]);
    for (let i = 0; i < 10; i++) link.connectionLost();
    expect([link.parallel, link.stallMs, link.sizer.current]).toEqual([16, 5_000, 64 * KiB]);
  });

  it('gives connections back one by one after runs of successes, and the sound-link stall time once back to the start', () => {
    const link = tuning();
    link.connectionLost();
    link.connectionLost();
    expect(link.parallel).toBe(16);
    for (let i = 0; i < 7; i++) link.succeeded();
    expect(link.parallel).toBe(16);
    link.succeeded();
    expect(link.parallel).toBe(15);
    // A loss in between starts the count again.
    for (let i = 0; i < 7; i++) link.succeeded();
    link.connectionLost();
    expect(link.parallel).toBe(16);
    for (let i = 0; i < 12 * 8; i++) link.succeeded();
    expect([link.parallel, link.stallMs]).toEqual([4, 10_000]);
  });
});

describe('range queue', () => {
  it('cuts ranges to the chunk size of the moment, in order', () => {
    const queue = new RangeQueue([{ index: 0, start: 0, end: 250 }, { index: 1, start: 100, end: 150 }]);
    expect(queue.take(100, 0)).toEqual({ index: 0, start: 0, end: 100 });
    expect(queue.take(50, 0)).toEqual({ index: 0, start: 100, end: 150 });
    expect(queue.take(500, 0)).toEqual({ index: 0, start: 150, end: 250 });
    expect(queue.take(500, 0)).toEqual({ index: 1, start: 100, end: 150 });
    expect(queue.take(500, 0)).toBeUndefined();
    expect(queue.size).toBe(0);
  });

  it('sends a piece given back after the rest, not before it is ready, and cut smaller if the size shrank', () => {
    const queue = new RangeQueue([{ index: 0, start: 0, end: 300 }]);
    const first = queue.take(100, 0)!;
    queue.giveBack(first, 1_000);
    expect(queue.take(100, 0)).toEqual({ index: 0, start: 100, end: 200 });
    expect(queue.take(100, 0)).toEqual({ index: 0, start: 200, end: 300 });
    expect(queue.take(100, 500)).toBeUndefined();
    expect(queue.nextReadyAt(500)).toBe(1_000);
    expect(queue.take(40, 1_000)).toEqual({ index: 0, start: 0, end: 40 });
    expect(queue.nextReadyAt(1_000)).toBeUndefined(); // the rest is ready
    expect(queue.take(100, 1_000)).toEqual({ index: 0, start: 40, end: 100 });
    expect(queue.nextReadyAt(1_000)).toBeUndefined(); // nothing left
  });

  it('puts a piece the relay found too large first again', () => {
    const queue = new RangeQueue([{ index: 0, start: 0, end: 300 }]);
    const piece = queue.take(200, 0)!;
    queue.retryFirst(piece);
    expect(queue.take(100, 0)).toEqual({ index: 0, start: 0, end: 100 });
  });
});
