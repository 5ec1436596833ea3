// The relay's idle memory release (issue 13, finding 11): after work, the first quiet interval runs
// a memory-reducing GC that shrinks V8's young generation, which a plain idle process never does.
import { getHeapSpaceStatistics } from 'node:v8';
import { expect, it } from 'vitest';
import { startIdleMemoryRelease } from '../../src/ops/idle-memory-release.js';

const newSpaceBytes = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? Number.NaN;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Busy allocating short-lived objects for `ms` (at most), as the chunk path does: the young generation grows. */
function churn(ms: number): number {
  const until = performance.now() + ms;
  let kept = 0;
  let rounds = 0;
  while (performance.now() < until && rounds < 5_000_000) {
    const garbage = Array.from({ length: 64 }, (_, i) => ({ i, text: `value ${i} ${rounds}` }));
    kept += garbage.length;
    rounds++;
  }
  return kept;
}

it('shrinks the young generation once the process goes quiet after work, and only then', async () => {
  let collections = 0;
  const release = startIdleMemoryRelease({ intervalMs: 500, quietCpuFraction: 0.1, onCollected: () => collections++ });
  try {
    // Quiet from the start (no work seen yet): nothing to give back, no collection.
    await sleep(1_200);
    expect(collections).toBe(0);
    // Work in slices, so the interval sees a busy process.
    for (let i = 0; i < 6; i++) {
      churn(200);
      await sleep(10);
    }
    const grown = newSpaceBytes();
    expect(grown).toBeGreaterThan(4 * 1024 * 1024);
    await expect.poll(() => collections, { timeout: 5_000, interval: 100 }).toBe(1);
    expect(newSpaceBytes()).toBeLessThan(grown / 2);
    // Still quiet: one collection per quiet spell, not one per interval.
    await sleep(1_500);
    expect(collections).toBe(1);
  } finally {
    release.stop();
  }
});
