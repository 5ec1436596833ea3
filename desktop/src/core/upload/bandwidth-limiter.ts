import { sleep as realSleep } from './backoff.js';

export interface BandwidthLimiterOptions {
  /** Bytes per second; 0 = unlimited. Changed later with setRate. */
  bytesPerSecond?: number;
  /**
   * How much may go at once after a quiet spell, as time at the full rate. Small, so the link sees
   * an even rate rather than a burst followed by silence.
   */
  burstMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A token bucket shared by every chunk send of an engine, so parallel sends together stay at or under
 * the cap. Each acquire reserves its bytes' time slot at once (synchronously, in call order: no
 * acquirer starves and concurrent acquirers share the rate) and then waits until the bucket has
 * filled enough to pay for them. A request bigger than the bucket is not split: it waits until its
 * whole cost has accrued less the burst, which leaves the bucket in debt that later requests wait
 * out, so the average holds for chunks of any size.
 *
 * Kept in the virtual-scheduling form of a token bucket (the GCRA of ITU-T I.371): `paidUntil` is
 * when the bytes reserved so far would have finished going at exactly the rate.
 */
export class BandwidthLimiter {
  private rate: number;
  private readonly burstMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private paidUntil = -Infinity;

  constructor(options: BandwidthLimiterOptions = {}) {
    this.rate = validRate(options.bytesPerSecond ?? 0);
    this.burstMs = options.burstMs ?? 100;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
  }

  get bytesPerSecond(): number {
    return this.rate;
  }

  /** Takes effect for the next acquire; reservations already made keep their slots. */
  setRate(bytesPerSecond: number): void {
    const rate = validRate(bytesPerSecond);
    if (rate === this.rate) return;
    this.rate = rate;
    if (rate === 0) this.paidUntil = -Infinity;
  }

  /** Resolves when `bytes` may be sent without the total exceeding the rate. */
  async acquire(bytes: number): Promise<void> {
    if (this.rate === 0 || bytes <= 0) return;
    const now = this.now();
    this.paidUntil = Math.max(this.paidUntil, now) + (bytes * 1000) / this.rate;
    const wait = this.paidUntil - this.burstMs - now;
    if (wait > 0) await this.sleep(wait);
  }
}

function validRate(bytesPerSecond: number): number {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) throw new RangeError(`a bandwidth cap must be a finite number of bytes per second, not ${bytesPerSecond}`);
  return bytesPerSecond;
}
