import { CodedFailure } from '../core/coded-error.js';
import type { Core } from '../core/create-core.js';
import { NotSignedInError } from '../core/session/agent-session.js';
import type { ConnectivityMonitor } from '../core/upload/connectivity-monitor.js';
import type { UploadEngine } from '../core/upload/upload-engine.js';

export interface EngineTrackingOptions {
  core: Pick<Core, 'engine'>;
  /** Someone is signed in and the API is not closing: only then is there an engine to use. */
  active: () => boolean;
  /** The relay's connectivity changed (for status:changed). */
  onOnlineChange: () => void;
}

/**
 * The upload engine of the signed-in session, and whether the relay answers: the engine's
 * connectivity monitor is followed while it is the current engine, and a new engine (after a sign-in
 * or a reset) is followed afresh.
 */
export class EngineTracking {
  private known: UploadEngine | undefined;
  private connectivity: { monitor: ConnectivityMonitor; listener: (online: boolean) => void } | undefined;
  private isOnline = true;

  constructor(private readonly options: EngineTrackingOptions) {}

  get online(): boolean {
    return this.isOnline;
  }

  /** The engine of the signed-in session; watches its connectivity for the status. */
  async engine(): Promise<UploadEngine> {
    if (!this.options.active()) throw new NotSignedInError('not signed in');
    const engine = await this.options.core.engine();
    if (engine !== this.known) {
      this.forget();
      this.known = engine;
      const monitor = engine.connectivity;
      if (monitor) {
        const listener = (online: boolean) => this.setOnline(online);
        monitor.on('change', listener);
        this.connectivity = { monitor, listener };
      }
    }
    return engine;
  }

  /** The engine, or SESSION_EXPIRED with `why` (what signing in would let the person do). */
  async require(why: string): Promise<UploadEngine> {
    try {
      return await this.engine();
    } catch (error) {
      if (error instanceof NotSignedInError) throw new CodedFailure('SESSION_EXPIRED', why);
      throw error;
    }
  }

  /** Stops following the current engine (it is being reset; the next one is built fresh). */
  forget(): void {
    this.connectivity?.monitor.off('change', this.connectivity.listener);
    this.connectivity = undefined;
    this.known = undefined;
  }

  /** Asks the relay whether it answers, so `online` stays true to life while signed in. */
  async probe(): Promise<void> {
    if (!this.options.active()) return;
    try {
      const engine = await this.engine();
      await engine.connectivity?.check();
    } catch {
      // Not signed in any more: nothing to probe.
    }
  }

  setOnline(online: boolean): void {
    if (this.isOnline === online) return;
    this.isOnline = online;
    this.options.onOnlineChange();
  }
}
