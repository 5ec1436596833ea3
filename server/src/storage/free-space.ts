/**
 * Free space where uploads are written, as admission and the chunk path need it. A statfs (with the
 * mkdir before it) costs about 0.1 ms of libuv's thread pool, which every chunk of a study of
 * thousands of small instances would pay: a reading is reused for up to `maxAgeMs` instead, less
 * the bytes of chunks written or being written since it was taken. The estimate errs low (a write
 * that finishes while statfs runs is counted twice), and a claim the estimate would refuse reads the
 * disk again first (see LocalDiskStorage.admit), so a stale reading never refuses a chunk while
 * deliveries have freed space meanwhile.
 */
export class FreeSpace {
  private reading: { free: number; at: number; finishedBefore: number } | undefined;
  private pending: Promise<void> | undefined;
  /** Bytes of writes claimed and not finished. */
  private inFlight = 0;
  /** Bytes of writes finished since the process started (a running total, compared with readings). */
  private finished = 0;

  constructor(private readonly measure: () => Promise<number>, private readonly maxAgeMs = 250) {}

  /** Takes a new reading unless the last one is younger than maxAgeMs (or `fresh` asks for one). Concurrent callers share one statfs. */
  async refresh(fresh = false): Promise<void> {
    if (!fresh && this.reading && performance.now() - this.reading.at < this.maxAgeMs) return;
    // A caller asking for a fresh reading waits for one that started after it asked.
    if (fresh && this.pending) await this.pending.catch(() => undefined);
    this.pending ??= this.read().finally(() => {
      this.pending = undefined;
    });
    await this.pending;
  }

  /** Free bytes now, by the last reading less what was written since; refresh() first. */
  estimate(): number {
    if (!this.reading) throw new Error('FreeSpace.estimate() before refresh()');
    return this.reading.free - this.inFlight - (this.finished - this.reading.finishedBefore);
  }

  /** Whether `bytes` more would leave at least `floor` free, by the estimate (refresh() first). */
  fits(bytes: number, floor: number): boolean {
    return this.estimate() - bytes >= floor;
  }

  /**
   * Claims `bytes` for a write when at least `floor` bytes stay free after it; answers the release
   * to call once the write ended (written or failed), or undefined when it would not fit.
   * Synchronous: two chunks cannot both be given the same last free bytes.
   */
  tryClaim(bytes: number, floor: number): (() => void) | undefined {
    if (!this.fits(bytes, floor)) return undefined;
    this.inFlight += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= bytes;
      this.finished += bytes;
    };
  }

  private async read(): Promise<void> {
    const finishedBefore = this.finished;
    const free = await this.measure();
    this.reading = { free, at: performance.now(), finishedBefore };
  }
}
