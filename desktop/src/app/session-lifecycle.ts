import type { InvokeRequest, SessionInfo } from '../common/ipc-contract.js';
import { CodedFailure, toCodedError } from '../core/coded-error.js';
import type { Core } from '../core/create-core.js';
import type { SenderLoop } from '../core/upload/sender-loop.js';
import type { DesktopSettings, PolicyProvider } from './desktop-settings.js';
import type { EngineTracking } from './engine-tracking.js';
import { normalizeRelayUrl } from './request-validators.js';
import type { StatusEvents } from './status-events.js';
import type { WatchService } from './watch-service.js';

export interface SessionLifecycleOptions {
  core: Pick<Core, 'session' | 'resetEngine'>;
  policy: PolicyProvider;
  settings: DesktopSettings;
  loop: SenderLoop;
  watch: WatchService;
  engines: EngineTracking;
  events: StatusEvents;
  /** How often the relay is probed while signed in. */
  probeMs: number;
  /** Follows the reports of the studies sent (core/reports/report-follower.ts) while signed in. */
  reports?: { start(): void; stop(): void };
}

/**
 * Who is signed in, and what runs because of it: the sender loop, the watchers, the relay probe and
 * the report follower run while someone is signed in. Sign-in and sign-out are serialised, since each stops and starts them.
 */
export class SessionLifecycle {
  private current: SessionInfo | null = null;
  private probeTimer: NodeJS.Timeout | undefined;
  private sessionChange: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: SessionLifecycleOptions) {}

  get session(): SessionInfo | null {
    return this.current;
  }

  /** The stored session as the core has it now. */
  async refresh(): Promise<SessionInfo | null> {
    this.current = (await this.options.core.session.info()) ?? null;
    return this.current;
  }

  /** At start: sends and watches when a session is stored. */
  async start(): Promise<void> {
    if (await this.refresh()) await this.startSending();
  }

  signIn(request: InvokeRequest<'session:sign-in'>): Promise<SessionInfo> {
    return this.serialised(() => this.doSignIn(request));
  }

  signOut(): Promise<void> {
    return this.serialised(() => this.doSignOut());
  }

  /** Waits for a sign-in or sign-out under way, then stops sending and watching. */
  async close(): Promise<void> {
    await this.sessionChange.catch(() => undefined);
    await this.stopSending();
  }

  private async doSignIn(request: InvokeRequest<'session:sign-in'>): Promise<SessionInfo> {
    const { core, engines, events, settings } = this.options;
    const { locked, values } = this.options.policy();
    if (locked.relayUrl && values?.relayUrl && normalizeRelayUrl(values.relayUrl) !== request.relayUrl) {
      throw new CodedFailure('NOT_ALLOWED', `IT has fixed the relay for this workstation to ${normalizeRelayUrl(values.relayUrl)}. Sign in there.`, 'locked: relayUrl');
    }
    const previous = this.current;
    if (previous) await this.stopSending();
    let info: SessionInfo;
    try {
      // Another account or relay: end the previous session properly (its token revoked and removed).
      if (previous && (previous.relayUrl !== request.relayUrl || previous.username !== request.username)) await core.session.logout();
      info = await core.session.login(request.relayUrl, request.username, request.password, request.totp);
    } catch (error) {
      const coded = toCodedError(error);
      if (coded.code === 'RELAY_UNREACHABLE') engines.setOnline(false);
      // A failed attempt leaves whatever session is still stored as it was.
      if (await this.refresh()) await this.startSending();
      events.emitStatus();
      throw error;
    }
    this.current = info;
    engines.setOnline(true);
    if (!locked.relayUrl) settings.set({ relayUrl: info.relayUrl });
    await this.startSending();
    events.emitStatus();
    return info;
  }

  private async doSignOut(): Promise<void> {
    await this.stopSending();
    this.current = null;
    await this.options.core.session.logout();
    this.options.events.emitStatus();
    this.options.events.queueChanged(true);
  }

  /** The sender and the watchers run while someone is signed in. */
  private async startSending(): Promise<void> {
    this.options.loop.start();
    await this.options.watch.start();
    this.options.reports?.start();
    clearInterval(this.probeTimer);
    this.probeTimer = setInterval(() => void this.options.engines.probe(), this.options.probeMs);
    this.probeTimer.unref();
  }

  private async stopSending(): Promise<void> {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    this.options.reports?.stop();
    const stopping = this.options.loop.stop();
    // Ends the engine's waits (window, offline) so the loop's run returns; the next engine is built fresh.
    this.options.core.resetEngine();
    this.options.engines.forget();
    await stopping;
    await this.options.watch.stop();
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const next = this.sessionChange.catch(() => undefined).then(work);
    this.sessionChange = next;
    return next;
  }
}
