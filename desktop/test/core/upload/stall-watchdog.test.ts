// The progress-based stall watchdog, on an injected clock: a slow chunk that keeps moving is never
// given up, a stuck one is, and a handshake that does not complete is given up sooner.
import { describe, expect, it } from 'vitest';
import { StallWatchdog } from '../../../src/core/upload/stall-watchdog.js';

function watchdog(options: { stallMs?: number; connectMs?: number } = {}) {
  const clock = { now: 0 };
  const dog = new StallWatchdog({ stallMs: options.stallMs ?? 5_000, connectMs: options.connectMs ?? 3_000, now: () => clock.now });
  return { clock, dog };
}

describe('stall watchdog', () => {
  it('never gives up a transfer that keeps moving, however long it takes', () => {
    const { clock, dog } = watchdog();
    let bytes = 0;
    // Ten minutes at a trickle: a few bytes every 4.9 s, each gap just under the stall time.
    for (clock.now = 0; clock.now < 600_000; clock.now += 4_900) {
      expect(dog.sample(true, bytes)).toBeUndefined();
      bytes += 1448;
    }
  });

  it('gives up a connection on which nothing moved for stallMs, saying how long', () => {
    const { clock, dog } = watchdog();
    expect(dog.sample(true, 100)).toBeUndefined();
    clock.now = 1_000;
    expect(dog.sample(true, 65_536)).toBeUndefined();
    clock.now = 5_999;
    expect(dog.sample(true, 65_536)).toBeUndefined();
    clock.now = 6_000;
    expect(dog.sample(true, 65_536)).toEqual({ phase: 'transfer', idleMs: 5_000 });
  });

  it('counts any change of the counter as progress (bytes read as well as written)', () => {
    const { clock, dog } = watchdog({ stallMs: 1_000 });
    dog.sample(true, 10);
    clock.now = 900;
    expect(dog.sample(true, 12)).toBeUndefined();
    clock.now = 1_800;
    expect(dog.sample(true, 11)).toBeUndefined();
    clock.now = 2_800;
    expect(dog.sample(true, 11)).toMatchObject({ phase: 'transfer' });
  });

  it('gives up a handshake after connectMs, and starts the stall clock only once connected', () => {
    const { clock, dog } = watchdog({ stallMs: 5_000, connectMs: 3_000 });
    expect(dog.sample(false, 0)).toBeUndefined();
    clock.now = 2_999;
    expect(dog.sample(false, 0)).toBeUndefined();
    clock.now = 3_000;
    expect(dog.sample(false, 0)).toEqual({ phase: 'connect', idleMs: 3_000 });

    const late = watchdog({ stallMs: 5_000, connectMs: 3_000 });
    late.clock.now = 2_500;
    expect(late.dog.sample(true, 0)).toBeUndefined(); // connected just in time
    late.clock.now = 7_000;
    expect(late.dog.sample(true, 0)).toBeUndefined(); // 4.5 s since connected
    late.clock.now = 7_500;
    expect(late.dog.sample(true, 0)).toEqual({ phase: 'transfer', idleMs: 5_000 });
  });

  it('watches a reused keep-alive connection for stalls from its first sample', () => {
    const { clock, dog } = watchdog({ stallMs: 2_000, connectMs: 500 });
    clock.now = 100;
    expect(dog.sample(true, 5_000_000)).toBeUndefined();
    clock.now = 2_100;
    expect(dog.sample(true, 5_000_000)).toEqual({ phase: 'transfer', idleMs: 2_000 });
  });

  it('applies a new stall time from the next sample (shorter once the answer has started)', () => {
    const { clock, dog } = watchdog({ stallMs: 30_000 });
    dog.sample(true, 1);
    clock.now = 10_000;
    expect(dog.sample(true, 1)).toBeUndefined();
    dog.setStallMs(4_000);
    expect(dog.sample(true, 1)).toEqual({ phase: 'transfer', idleMs: 10_000 });
  });
});
