import { EventEmitter } from 'node:events';
import { backoffMs, sleepUnlessAborted } from './backoff.js';

export interface ConnectivityMonitorOptions {
  /** True when the relay answers (RelayClient.isLive: GET /healthz with a short timeout). Never throws. */
  probe: () => Promise<boolean>;
  /** Probes while offline back off from this... */
  backoffBaseMs?: number;
  /** ...to this, so a long outage costs one small request every few seconds. */
  backoffMaxMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

export interface ConnectivityEvents {
  change: [online: boolean];
}

/**
 * Knows whether the relay is reachable, for the engine (wait instead of spending retries while the
 * link is down) and for status displays (`online`, 'change' events). Assumes online until a probe
 * says otherwise. A failed request alone does not make it offline: the engine asks for a probe
 * (check) first, since one reset connection on a flaky link is not an outage and a request the relay
 * refuses to finish is an ordinary failure that should spend a retry. While anyone waits for the relay
 * it probes with exponential backoff and jitter; with no one waiting it sends nothing.
 */
export class ConnectivityMonitor extends EventEmitter<ConnectivityEvents> {
  private state = true;
  private loop: { stop: AbortController } | undefined;
  private waiters = 0;

  constructor(private readonly options: ConnectivityMonitorOptions) {
    super();
  }

  get online(): boolean {
    return this.state;
  }

  /** Probes now and returns whether the relay answered. */
  async check(): Promise<boolean> {
    const reachable = await this.options.probe().catch(() => false);
    this.set(reachable);
    return reachable;
  }

  /**
   * Resolves once the relay answers again, at once when online, or when `signal` aborts. Returns
   * whether it is online (false only when aborted first).
   */
  async waitForOnline(signal?: AbortSignal): Promise<boolean> {
    if (this.state) return true;
    if (signal?.aborted) return false;
    this.waiters++;
    if (!this.loop || this.loop.stop.signal.aborted) this.startProbing();
    try {
      await new Promise<void>((resolve) => {
        const onChange = (online: boolean) => {
          if (online) done();
        };
        const done = () => {
          this.off('change', onChange);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.on('change', onChange);
        signal?.addEventListener('abort', done, { once: true });
      });
    } finally {
      if (--this.waiters === 0) this.loop?.stop.abort();
    }
    return this.state;
  }

  private startProbing(): void {
    const loop = { stop: new AbortController() };
    this.loop = loop;
    const sleep = this.options.sleep ?? sleepUnlessAborted;
    void (async () => {
      try {
        for (let attempt = 0; !this.state && !loop.stop.signal.aborted; attempt++) {
          await sleep(backoffMs(attempt, this.options.backoffBaseMs ?? 250, this.options.backoffMaxMs ?? 15_000, this.options.random), loop.stop.signal);
          if (loop.stop.signal.aborted) break;
          await this.check();
        }
      } finally {
        // In the same tick the loop ends: a waiter arriving next starts a new loop.
        if (this.loop === loop) this.loop = undefined;
      }
    })();
  }

  private set(online: boolean): void {
    if (online === this.state) return;
    this.state = online;
    this.emit('change', online);
  }
}
