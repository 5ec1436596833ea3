import { describe, expect, it } from 'vitest';
import { BandwidthLimiter } from '../../../src/core/upload/bandwidth-limiter.js';
import { VirtualClock } from './virtual-clock.js';

const MB = 1_000_000;

function limiter(clock: VirtualClock, bytesPerSecond: number, burstMs = 100): BandwidthLimiter {
  return new BandwidthLimiter({ bytesPerSecond, burstMs, now: () => clock.now, sleep: clock.sleep });
}

/** Sends `total` bytes in `chunk`-byte pieces through the limiter; returns each piece's start time. */
async function send(clock: VirtualClock, bucket: BandwidthLimiter, total: number, chunk: number): Promise<number[]> {
  const starts: number[] = [];
  for (let sent = 0; sent < total; sent += chunk) {
    await bucket.acquire(Math.min(chunk, total - sent));
    starts.push(clock.now);
  }
  return starts;
}

async function runWith<T>(clock: VirtualClock, work: Promise<T>): Promise<T> {
  await clock.run();
  return work;
}

describe('bandwidth limiter', () => {
  it('lets N bytes at rate R start over N/R seconds less one burst', async () => {
    const clock = new VirtualClock();
    const starts = await runWith(clock, send(clock, limiter(clock, MB), 2 * MB, 64 * 1024));
    // The last piece may start once everything before it and itself is paid for, less the burst.
    expect(starts.at(-1)).toBeCloseTo(2000 - 100, 6);
    // At no point did more go than the rate allows plus one burst.
    let sent = 0;
    for (const [i, start] of starts.entries()) {
      sent += Math.min(64 * 1024, 2 * MB - i * 64 * 1024);
      expect(sent).toBeLessThanOrEqual((start / 1000) * MB + 0.1 * MB + 1e-6);
    }
  });

  it('allows one burst after a quiet spell, and no more however long the spell', async () => {
    const clock = new VirtualClock();
    const bucket = limiter(clock, MB, 100);
    clock.now = 10_000;
    // 100 ms worth goes at once...
    await bucket.acquire(100_000);
    expect(clock.sleeps).toBe(0);
    // ...the next byte waits for the rate: ten idle seconds did not fill the bucket beyond one burst.
    const next = bucket.acquire(100_000);
    await clock.run();
    await next;
    expect(clock.now).toBeCloseTo(10_100, 6);
  });

  it('lets a chunk bigger than the bucket go, and makes later chunks wait out its debt', async () => {
    const clock = new VirtualClock();
    const bucket = limiter(clock, MB, 100);
    const big = bucket.acquire(5 * MB);
    await clock.run();
    await big;
    expect(clock.now).toBeCloseTo(4900, 6);
    const small = bucket.acquire(10_000);
    await clock.run();
    await small;
    expect(clock.now).toBeCloseTo(4910, 6);
  });

  it('shares the rate among concurrent acquirers, in turn', async () => {
    const clock = new VirtualClock();
    const bucket = limiter(clock, MB, 100);
    const workers = Array.from({ length: 4 }, () => send(clock, bucket, 500_000, 50_000));
    await clock.run();
    const starts = await Promise.all(workers);
    // Together 2 MB at 1 MB/s, as for one sender: the workers did not each get the full rate.
    expect(Math.max(...starts.map((s) => s.at(-1)!))).toBeCloseTo(1900, 6);
    // Each worker got its turn all along: all four finish within one round of each other.
    const finishes = starts.map((s) => s.at(-1)!);
    expect(Math.max(...finishes) - Math.min(...finishes)).toBeLessThanOrEqual(150 + 1e-6);
  });

  it('does not wait at all without a cap, and applies a new rate from the next acquire', async () => {
    const clock = new VirtualClock();
    const bucket = limiter(clock, 0);
    await bucket.acquire(100 * MB);
    expect(clock.sleeps).toBe(0);
    bucket.setRate(MB);
    const capped = send(clock, bucket, MB, 100_000);
    await clock.run();
    expect((await capped).at(-1)).toBeCloseTo(900, 6);
    bucket.setRate(0);
    await bucket.acquire(100 * MB);
    expect(clock.now).toBeCloseTo(900, 6);
  });

  it('refuses a rate that is not a finite, non-negative number', () => {
    expect(() => new BandwidthLimiter({ bytesPerSecond: -1 })).toThrow(RangeError);
    expect(() => new BandwidthLimiter().setRate(Number.NaN)).toThrow(/finite number of bytes per second/);
  });
});
