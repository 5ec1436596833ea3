import { describe, expect, it } from 'vitest';
import { SharedSync } from '../../src/storage/shared-sync.js';

/** A sync whose runs the test finishes by hand, recording when each started. */
function controlledSync() {
  const runs: { startedAt: number; finish: (error?: Error) => void }[] = [];
  let clock = 0;
  const sync = () => new Promise<void>((resolve, reject) => {
    runs.push({ startedAt: ++clock, finish: (error) => (error ? reject(error) : resolve()) });
  });
  return { runs, sync };
}
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('SharedSync', () => {
  it('runs once for callers that find it idle together, and once more for all who came during that run', async () => {
    const { runs, sync } = controlledSync();
    const shared = new SharedSync(sync);
    const first = shared.request();
    const during = [shared.request(), shared.request(), shared.request()];
    expect(runs).toHaveLength(1);
    let duringDone = false;
    void Promise.all(during).then(() => (duringDone = true));
    runs[0]!.finish();
    await first;
    await settle();
    // Their writes may have come after the first run started: they wait for a second.
    expect(duringDone).toBe(false);
    expect(runs).toHaveLength(2);
    runs[1]!.finish();
    await Promise.all(during);
    expect(shared.busy).toBe(false);
  });

  it('reports a failed run to its callers, and the next caller gets a new run', async () => {
    const { runs, sync } = controlledSync();
    const shared = new SharedSync(sync);
    const failing = shared.request();
    runs[0]!.finish(new Error('EIO'));
    await expect(failing).rejects.toThrow('EIO');
    const next = shared.request();
    expect(runs).toHaveLength(2);
    runs[1]!.finish();
    await next;
  });

  it('skips the follow-up run when nothing was written since the last one started', async () => {
    const { runs, sync } = controlledSync();
    // Nothing was written after the first caller's request.
    const shared = new SharedSync(sync, () => false);
    const first = shared.request();
    const during = shared.request();
    runs[0]!.finish();
    await first;
    await during;
    expect(runs).toHaveLength(1);
  });
});
