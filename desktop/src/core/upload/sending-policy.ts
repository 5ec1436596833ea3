import { sleepUnlessAborted } from './backoff.js';
import { BandwidthLimiter } from './bandwidth-limiter.js';
import { describeTransferWindows, isWindowOpen, msUntilWindowOpens, type TransferWindow } from './transfer-window.js';

/** What limits sending, as the agent's settings say (core/settings/agent-settings.ts). */
export interface SendingLimits {
  /** All chunk sends together stay at or under this many bytes per second; null = no cap. */
  maxBytesPerSecond: number | null;
  /** When ROUTINE studies may be sent, local time; empty = any time. STAT always goes. */
  routineWindows: readonly TransferWindow[];
}

export const NO_SENDING_LIMITS: SendingLimits = { maxBytesPerSecond: null, routineWindows: [] };

/** Why a job waits instead of sending; `code` is from common/error-codes.ts. */
export interface HoldReason {
  code: 'WAITING_FOR_WINDOW' | 'RELAY_UNREACHABLE';
  message: string;
}

export interface SendingPolicyOptions {
  /** Read before every job and every chunk, so a changed setting applies from the next chunk. */
  limits?: () => SendingLimits;
  /** Wall-clock time, for the windows. */
  now?: () => Date;
  /** Waiting for a window; ends early when the signal aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** A job waiting for its window looks again at least this often: settings may change, a job be paused. */
  recheckMs?: number;
  limiter?: BandwidthLimiter;
}

/**
 * Decides when and how fast the engine sends: routine jobs only inside their windows, every chunk
 * paced through one token bucket so parallel sends share the cap.
 */
export class SendingPolicy {
  private readonly limiter: BandwidthLimiter;
  private readonly limits: () => SendingLimits;
  private readonly now: () => Date;

  constructor(private readonly options: SendingPolicyOptions = {}) {
    // Pacing runs on a monotonic clock: a wall clock set back would otherwise stall sending.
    this.limiter = options.limiter ?? new BandwidthLimiter({ now: () => performance.now() });
    this.limits = options.limits ?? (() => NO_SENDING_LIMITS);
    this.now = options.now ?? (() => new Date());
  }

  /** Why a job of this service level may not send now, or undefined when it may. */
  holdReason(serviceLevel: 'STAT' | 'ROUTINE'): HoldReason | undefined {
    if (serviceLevel === 'STAT') return undefined;
    const windows = this.limits().routineWindows;
    if (isWindowOpen(windows, this.now())) return undefined;
    return { code: 'WAITING_FOR_WINDOW', message: `routine studies are sent ${describeTransferWindows(windows)}` };
  }

  /**
   * Waits until the routine window opens, or at most `recheckMs`, or until `signal` aborts; the
   * caller then looks again (holdReason), which also picks up changed settings.
   */
  async waitForWindow(signal?: AbortSignal): Promise<void> {
    const ms = msUntilWindowOpens(this.limits().routineWindows, this.now());
    if (ms > 0) await (this.options.sleep ?? sleepUnlessAborted)(Math.min(ms, this.options.recheckMs ?? 60_000), signal);
  }

  /** Resolves when `bytes` may go without all sends together exceeding the cap as set now. */
  async pace(bytes: number): Promise<void> {
    this.limiter.setRate(this.limits().maxBytesPerSecond ?? 0);
    await this.limiter.acquire(bytes);
  }

  /**
   * The largest chunk worth sending under the cap: about one second of it (never below the relay's
   * minimum), so the link sees a steady rate rather than a long wait and then a whole chunk at full
   * speed. Unlimited without a cap.
   */
  chunkCeiling(minBytes: number): number {
    const cap = this.limits().maxBytesPerSecond;
    return cap ? Math.max(minBytes, Math.floor(cap)) : Infinity;
  }
}
