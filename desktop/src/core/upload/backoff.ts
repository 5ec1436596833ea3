/**
 * Exponential backoff with jitter: attempt n waits between half and all of base·2ⁿ, capped, so
 * many workstations reconnecting after an outage do not hit the relay in step.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Like sleep, but ends early, resolving rather than rejecting, when `signal` aborts: for waits that
 * are given up as a matter of course (an agent stopping while a job waits for its window).
 */
export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    // setTimeout fires at once for delays past 2³¹-1 ms (about 24.8 days).
    const timer = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Waits up to `ms` before retrying a relay that refused for want of space (507) or was not ready
 * (503), asking its GET /readyz every `pollMs` meanwhile: the Retry-After it sent is a guess made
 * when it answered (300 s when no delivery was freeing space), and space freed sooner, by hand or
 * by deliveries, is then used sooner. Ends early once `isReady` says yes or `signal` aborts; at
 * most ms / pollMs probes, one at a time.
 */
export async function sleepUntilReady(ms: number, options: { isReady: () => Promise<boolean>; pollMs: number; signal?: AbortSignal }): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0 || options.signal?.aborted) return;
    await sleepUnlessAborted(Math.min(options.pollMs, left), options.signal);
    if (options.signal?.aborted || performance.now() >= deadline) return;
    if (await options.isReady()) return;
  }
}
