/**
 * Virtual time for pacing and waiting logic: `sleep` registers a timer, `run` wakes sleepers in
 * time order, letting promise chains run between wakes, until nothing sleeps. A test's seconds cost
 * microseconds and come out exactly.
 */
export class VirtualClock {
  now = 0;
  sleeps = 0;
  private timers: { at: number; seq: number; wake: () => void }[] = [];
  private seq = 0;

  readonly sleep = (ms: number, signal?: AbortSignal): Promise<void> => new Promise<void>((resolve) => {
    this.sleeps++;
    const timer = { at: this.now + Math.max(0, ms), seq: this.seq++, wake: resolve };
    this.timers.push(timer);
    signal?.addEventListener('abort', () => {
      this.timers = this.timers.filter((t) => t !== timer);
      resolve();
    }, { once: true });
  });

  /** Runs until every sleeper has woken and no new one sleeps. */
  run(): Promise<void> {
    return this.runUntil(Infinity);
  }

  /** Wakes sleepers due up to `time`, in order, then sets the clock to it (when finite). */
  async runUntil(time: number): Promise<void> {
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > time) break;
      this.timers.shift();
      this.now = Math.max(this.now, next.at);
      next.wake();
    }
    if (Number.isFinite(time)) this.now = Math.max(this.now, time);
  }
}
