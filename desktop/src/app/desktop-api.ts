import { join } from 'node:path';
import type { CodedError } from '../common/error-codes.js';
import {
  INVOKE_CHANNELS,
  type EventChannel, type EventChannels, type InvokeChannel, type InvokeRequest, type InvokeResponse, type IpcResult, type QueueItem,
  type SessionInfo, type Settings, type StatusSummary,
} from '../common/ipc-contract.js';
import type { Core } from '../core/create-core.js';
import { AttachedPhotoFiles } from '../core/import/photo/photo-files.js';
import { NotSignedInError } from '../core/session/agent-session.js';
import type { ConnectivityMonitor } from '../core/upload/connectivity-monitor.js';
import { applyQueueAction, applyToAll, type QueueAction } from '../core/upload/queue-actions.js';
import { SenderLoop } from '../core/upload/sender-loop.js';
import type { JobOutcome, UploadEngine } from '../core/upload/upload-engine.js';
import { WatchedFoldersRepository } from '../core/watch/watched-folders-repository.js';
import { CodedFailure, toCodedError } from './coded-failure.js';
import { DesktopSettings, NO_POLICY, type PolicyProvider } from './desktop-settings.js';
import { ImportReviewer } from './import-review.js';
import { JobViews } from './job-views.js';
import { PhotoAttachments } from './photo-attachments.js';
import { normalizeRelayUrl, REQUEST_VALIDATORS } from './request-validators.js';
import { TransferSpeed } from './transfer-speed.js';
import { WatchService, type WatchTimings } from './watch-service.js';

/** An OS notification main shows (no patient data: notifications appear on locked screens). */
export interface DesktopNotice {
  kind: 'stat-delivered' | 'failure';
  title: string;
  body: string;
  jobId: number;
}

export interface DesktopApiOptions {
  /** The core this API runs over; the API owns it from here and closes it in close(). */
  core: Core;
  /**
   * The native open dialog (Electron main passes dialog.showOpenDialog; the browser harness a
   * function the test controls). Resolves with the chosen paths, or [] when cancelled.
   */
  chooseImportPaths: (kind: 'folder' | 'files') => Promise<string[]>;
  /** IT policy: which settings are fixed, and to what. Default: nothing locked. */
  policy?: PolicyProvider;
  /** OS notifications for STAT delivered and failures needing action, as the settings allow. */
  notify?: (notice: DesktopNotice) => void;
  /** The settings changed (start at login, theme, updates are applied by main). */
  onSettingsChanged?: (settings: Settings) => void;
  /** Where the API logs: ids, channels and codes only, never patient data. Default console.warn. */
  log?: (message: string) => void;
  /** Timing of watched folders (tests shorten the quiet period). */
  watchTimings?: WatchTimings;
  /** queue:changed at most this often while uploads report progress. Default 250 ms. */
  queueEventIntervalMs?: number;
  /** How often the relay is probed while signed in, so `online` stays true to life. Default 15 s. */
  onlineProbeMs?: number;
  /** The sender's idle look at the queue. Default 2 s. */
  senderIdleMs?: number;
  now?: () => Date;
}

/**
 * The desktop app's services behind the IPC contract: one handler per invoke channel, each
 * validating its request and answering an IpcResult (never throwing across the boundary), and an
 * event source for every event channel. Electron main registers `invoke` for each channel and
 * forwards `onEvent` to the window; the browser test harness serves the same object to a page.
 */
export interface DesktopApi {
  readonly core: Core;
  /** Runs one channel. An unknown channel or a payload of the wrong shape answers INVALID_REQUEST. */
  invoke<C extends InvokeChannel>(channel: C, request: unknown): Promise<IpcResult<InvokeResponse<C>>>;
  invoke(channel: string, request: unknown): Promise<IpcResult<unknown>>;
  on<E extends EventChannel>(channel: E, listener: (payload: EventChannels[E]) => void): () => void;
  /** Every event of every channel, for transports that forward them all. */
  onEvent(listener: (channel: EventChannel, payload: EventChannels[EventChannel]) => void): () => void;
  /** Stops sending and watching, waits briefly for work in flight, and closes the core. */
  close(): Promise<void>;
}

type Handlers = { [C in InvokeChannel]: (request: InvokeRequest<C>) => Promise<InvokeResponse<C>> | InvokeResponse<C> };

const TERMINAL_FOR_NOTICE = new Set(['delivered', 'confirmed', 'failed']);

export async function createDesktopApi(options: DesktopApiOptions): Promise<DesktopApi> {
  const service = new DesktopApiService(options);
  await service.start();
  return service;
}

class DesktopApiService implements DesktopApi {
  readonly core: Core;
  private readonly log: (message: string) => void;
  private readonly policy: PolicyProvider;
  private readonly speed = new TransferSpeed();
  private readonly views: JobViews;
  private readonly settings: DesktopSettings;
  private readonly reviewer: ImportReviewer;
  private readonly loop: SenderLoop;
  private readonly watch: WatchService;
  private readonly listeners = new Set<(channel: EventChannel, payload: EventChannels[EventChannel]) => void>();
  private readonly unsubscribeProgress: () => void;
  private session: SessionInfo | null = null;
  private online = true;
  private closed = false;
  private queueTimer: NodeJS.Timeout | undefined;
  private queueDueAt = 0;
  private lastStatus = '';
  private probeTimer: NodeJS.Timeout | undefined;
  private knownEngine: UploadEngine | undefined;
  private connectivity: { monitor: ConnectivityMonitor; listener: (online: boolean) => void } | undefined;
  /** Serialises sign-in and sign-out: each stops and starts the sender and the watchers. */
  private sessionChange: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: DesktopApiOptions) {
    this.core = options.core;
    this.log = options.log ?? ((message) => console.warn(`[desktop-api] ${message}`));
    this.policy = options.policy ?? NO_POLICY;
    const now = options.now ?? (() => new Date());
    this.views = new JobViews(this.core.db, this.speed, now);
    this.settings = new DesktopSettings(this.core.db, this.core.settings, this.policy, now);
    // Photos' Secondary Capture files live in the data folder, not tmp: the catalog needs them until sent.
    const photos = new PhotoAttachments({ catalog: this.core.catalog, imports: this.core.imports, files: new AttachedPhotoFiles(this.core.db, join(this.core.dataDir, 'photos')), now });
    this.reviewer = new ImportReviewer({ db: this.core.db, catalog: this.core.catalog, imports: this.core.imports, tempDir: this.core.tempDir, photos });
    this.loop = new SenderLoop({
      engine: () => this.engine(),
      onChange: () => this.queueChanged(),
      onFinished: (outcome) => this.finished(outcome),
      log: this.log,
      ...(options.senderIdleMs !== undefined ? { idleMs: options.senderIdleMs } : {}),
    });
    this.watch = new WatchService({
      folders: new WatchedFoldersRepository(this.core.db, now),
      imports: this.core.imports,
      sender: async () => {
        const engine = await this.engine();
        return {
          enqueue: (uid: string, level: 'STAT' | 'ROUTINE', history?: string, routingTag?: string) => {
            const id = engine.enqueue(uid, level, history, routingTag);
            this.loop.wake();
            this.queueChanged();
            return id;
          },
          // The sender loop sends it (STAT first, with everything else); the watcher waits for the end.
          run: (jobId: number) => this.loop.whenFinished(jobId),
        };
      },
      locked: () => this.policy().locked.watchedFolders === true,
      onChange: (folders) => this.emit('watch:changed', folders),
      log: this.log,
      ...(options.watchTimings ? { timings: options.watchTimings } : {}),
    });
    this.unsubscribeProgress = this.core.onUploadProgress((progress) => {
      this.speed.record(progress.jobId, progress.bytesSent, progress.totalBytes, progress.state === 'uploading');
      this.queueChanged();
    });
  }

  async start(): Promise<void> {
    try {
      this.settings.applyPolicy();
    } catch (error) {
      this.log(`policy values could not be applied (${toCodedError(error).code})`);
    }
    this.session = (await this.core.session.info()) ?? null;
    if (this.session) await this.startSending();
  }

  // ---- the boundary ------------------------------------------------------------------------

  async invoke(channel: string, request: unknown): Promise<IpcResult<never>> {
    if (!(INVOKE_CHANNELS as readonly string[]).includes(channel)) {
      return { ok: false, error: { code: 'INVALID_REQUEST', message: 'This request is not known to RelayPACS.', detail: 'unknown channel' } };
    }
    const name = channel as InvokeChannel;
    if (this.closed) return { ok: false, error: { code: 'INTERNAL', message: 'RelayPACS is closing. Open it again to go on.', detail: name } };
    try {
      const validated = (REQUEST_VALIDATORS[name] as (request: unknown) => unknown)(request);
      const handler = this.handlers[name] as (request: unknown) => Promise<unknown> | unknown;
      const value = await handler(validated);
      return { ok: true, value: value as never };
    } catch (error) {
      const coded = toCodedError(error);
      this.report(name, coded);
      return { ok: false, error: coded };
    }
  }

  on<E extends EventChannel>(channel: E, listener: (payload: EventChannels[E]) => void): () => void {
    return this.onEvent((name, payload) => {
      if (name === channel) listener(payload as EventChannels[E]);
    });
  }

  onEvent(listener: (channel: EventChannel, payload: EventChannels[EventChannel]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sessionChange.catch(() => undefined);
    await this.stopSending();
    this.loop.abandonWaiters('RelayPACS is closing');
    this.unsubscribeProgress();
    clearTimeout(this.queueTimer);
    this.listeners.clear();
    this.core.close();
  }

  private readonly handlers: Handlers = {
    'session:get': async () => {
      this.session = (await this.core.session.info()) ?? null;
      return this.session;
    },
    'session:sign-in': (request) => this.serialised(() => this.signIn(request)),
    'session:sign-out': () => this.serialised(() => this.signOut()),
    'import:choose': async ({ kind }) => {
      const chosen: unknown = await this.options.chooseImportPaths(kind);
      if (!Array.isArray(chosen) || chosen.some((p) => typeof p !== 'string')) throw new Error('the file dialog answered something other than a list of paths');
      return chosen as string[];
    },
    'import:paths': ({ paths }) => this.reviewer.importPaths(paths, (progress) => this.emit('import:progress', progress)),
    'import:attach-photos': (request) => this.reviewer.attachPhotos(request),
    'import:send': async ({ studies }) => {
      const engine = await this.requireEngine('Sign in to send studies.');
      const known = this.core.db.prepare('SELECT 1 FROM studies WHERE study_instance_uid = ?');
      if (studies.some((s) => known.get(s.studyInstanceUid) === undefined)) {
        throw new CodedFailure('INVALID_REQUEST', 'A study to send is no longer in the catalog. Import it again, then send.');
      }
      const jobIds = this.core.db.transaction(() => studies.map((s) => engine.enqueue(s.studyInstanceUid, s.serviceLevel, s.clinicalHistory)))();
      this.loop.wake();
      this.queueChanged(true);
      return { jobIds: [...new Set(jobIds)] };
    },
    'queue:list': () => this.views.queue(),
    'queue:act': (request) => this.act(request.action, request.jobId),
    'watch:list': () => this.watch.list(),
    'watch:add': (folder) => {
      this.refuseIfFoldersLocked();
      return this.watch.add(folder);
    },
    'watch:remove': ({ path }) => {
      this.refuseIfFoldersLocked();
      return this.watch.remove(path);
    },
    'history:list': (filter) => this.views.history(filter),
    'history:export': (filter) => this.views.exportCsv(filter),
    'settings:get': () => this.settings.view(),
    'settings:set': (patch) => {
      const view = this.settings.set(patch);
      // A changed cap or window may release held studies.
      if (patch.maxBytesPerSecond !== undefined || patch.routineWindows !== undefined) this.loop.wake();
      this.options.onSettingsChanged?.(view.settings);
      return view;
    },
    'status:get': () => this.status(),
  };

  // ---- session -----------------------------------------------------------------------------

  private async signIn(request: InvokeRequest<'session:sign-in'>): Promise<SessionInfo> {
    const { locked, values } = this.policy();
    if (locked.relayUrl && values?.relayUrl && normalizeRelayUrl(values.relayUrl) !== request.relayUrl) {
      throw new CodedFailure('NOT_ALLOWED', `IT has fixed the relay for this workstation to ${normalizeRelayUrl(values.relayUrl)}. Sign in there.`, 'locked: relayUrl');
    }
    const previous = this.session;
    if (previous) await this.stopSending();
    let info: SessionInfo;
    try {
      // Another account or relay: end the previous session properly (its token revoked and removed).
      if (previous && (previous.relayUrl !== request.relayUrl || previous.username !== request.username)) await this.core.session.logout();
      info = await this.core.session.login(request.relayUrl, request.username, request.password, request.totp);
    } catch (error) {
      const coded = toCodedError(error);
      if (coded.code === 'RELAY_UNREACHABLE') this.setOnline(false);
      // A failed attempt leaves whatever session is still stored as it was.
      this.session = (await this.core.session.info()) ?? null;
      if (this.session) await this.startSending();
      this.emitStatus();
      throw error;
    }
    this.session = info;
    this.setOnline(true);
    if (!locked.relayUrl) this.settings.set({ relayUrl: info.relayUrl });
    await this.startSending();
    this.emitStatus();
    return info;
  }

  private async signOut(): Promise<void> {
    await this.stopSending();
    this.session = null;
    await this.core.session.logout();
    this.emitStatus();
    this.queueChanged(true);
  }

  /** The sender and the watchers run while someone is signed in. */
  private async startSending(): Promise<void> {
    this.loop.start();
    await this.watch.start();
    clearInterval(this.probeTimer);
    this.probeTimer = setInterval(() => void this.probe(), this.options.onlineProbeMs ?? 15_000);
    this.probeTimer.unref();
  }

  private async stopSending(): Promise<void> {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    const stopping = this.loop.stop();
    // Ends the engine's waits (window, offline) so the loop's run returns; the next engine is built fresh.
    this.core.resetEngine();
    this.forgetEngine();
    await stopping;
    await this.watch.stop();
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const next = this.sessionChange.catch(() => undefined).then(work);
    this.sessionChange = next;
    return next;
  }

  // ---- sending -----------------------------------------------------------------------------

  /** The engine of the signed-in session; watches its connectivity for the status. */
  private async engine(): Promise<UploadEngine> {
    if (this.closed || !this.session) throw new NotSignedInError('not signed in');
    const engine = await this.core.engine();
    if (engine !== this.knownEngine) {
      this.forgetEngine();
      this.knownEngine = engine;
      const monitor = engine.connectivity;
      if (monitor) {
        const listener = (online: boolean) => this.setOnline(online);
        monitor.on('change', listener);
        this.connectivity = { monitor, listener };
      }
    }
    return engine;
  }

  private forgetEngine(): void {
    this.connectivity?.monitor.off('change', this.connectivity.listener);
    this.connectivity = undefined;
    this.knownEngine = undefined;
  }

  private async requireEngine(why: string): Promise<UploadEngine> {
    try {
      return await this.engine();
    } catch (error) {
      if (error instanceof NotSignedInError) throw new CodedFailure('SESSION_EXPIRED', why);
      throw error;
    }
  }

  private async probe(): Promise<void> {
    if (!this.session || this.closed) return;
    try {
      const engine = await this.engine();
      await engine.connectivity?.check();
    } catch {
      // Not signed in any more: nothing to probe.
    }
  }

  private async act(action: QueueAction, target: number | 'all'): Promise<{ changed: number }> {
    const engine = await this.requireEngine('Sign in to change the queue.');
    let changed: number[];
    let firstError: unknown;
    if (target === 'all') ({ changed, firstError } = await applyToAll(engine, this.core.db, action));
    else {
      const job = engine.jobs.find(target);
      if (!job) throw new CodedFailure('INVALID_REQUEST', `There is no job ${target} in the queue. Refresh the queue and try again.`);
      const accepted = new CodedFailure('INVALID_REQUEST', 'The relay has already accepted this study and is sending it to PACS; it cannot be called back.');
      if (action === 'cancel' && ['completing', 'forwarding'].includes(job.state)) throw accepted;
      try {
        changed = (await applyQueueAction(engine, this.core.db, action, target)) ? [target] : [];
      } catch (error) {
        changed = [];
        firstError = error;
      }
      if (action === 'cancel' && changed.length === 0 && firstError === undefined) throw accepted;
    }
    for (const id of changed) this.speed.forget(id);
    if (changed.length > 0) this.log(`queue: ${action} ${target === 'all' ? 'all' : `job ${target}`}: ${changed.length} changed`);
    this.loop.wake();
    await this.loop.settleWaiters();
    this.queueChanged(true);
    if (firstError !== undefined && changed.length === 0) throw firstError;
    return { changed: changed.length };
  }

  private finished(outcome: JobOutcome): void {
    this.speed.forget(outcome.jobId);
    this.queueChanged(true);
    const notify = this.options.notify;
    if (!notify || !TERMINAL_FOR_NOTICE.has(outcome.state)) return;
    let settings: Settings;
    try {
      settings = this.settings.view().settings;
    } catch {
      return;
    }
    const item = this.views.queueItemOf(outcome.jobId);
    if (!item) return;
    // OS notifications show on lock screens: no study text at all (descriptions are free text that
    // sites fill with names); the app's window says which study it was.
    if (outcome.state === 'failed' && settings.notifications.failures) {
      notify({ kind: 'failure', jobId: item.jobId, title: 'A study needs attention', body: 'A study was not delivered. Open RelayPACS to see why.' });
    } else if (outcome.state !== 'failed' && item.serviceLevel === 'STAT' && settings.notifications.statDelivered) {
      notify({ kind: 'stat-delivered', jobId: item.jobId, title: 'STAT study is in PACS', body: 'A STAT study has been delivered.' });
    }
  }

  private refuseIfFoldersLocked(): void {
    if (this.policy().locked.watchedFolders) {
      throw new CodedFailure('NOT_ALLOWED', 'IT manages the watched folders of this workstation; they cannot be changed here.', 'locked: watchedFolders');
    }
  }

  // ---- events ------------------------------------------------------------------------------

  private emit<E extends EventChannel>(channel: E, payload: EventChannels[E]): void {
    for (const listener of this.listeners) {
      try {
        listener(channel, payload);
      } catch (error) {
        this.log(`a listener of ${channel} failed (${error instanceof Error ? error.name : 'error'})`);
      }
    }
  }

  /**
   * queue:changed (and status:changed with it) at most every queueEventIntervalMs while uploads
   * report progress; `now` for changes a person made, which should show at once.
   */
  private queueChanged(now = false): void {
    if (this.closed) return;
    if (now) {
      clearTimeout(this.queueTimer);
      this.queueTimer = undefined;
      this.emitQueue();
      return;
    }
    if (this.queueTimer) return;
    const wait = Math.max(0, this.queueDueAt - performance.now());
    this.queueTimer = setTimeout(() => {
      this.queueTimer = undefined;
      this.emitQueue();
    }, wait);
  }

  private emitQueue(): void {
    if (this.closed) return;
    this.queueDueAt = performance.now() + (this.options.queueEventIntervalMs ?? 250);
    let queue: QueueItem[];
    try {
      queue = this.views.queue();
    } catch (error) {
      this.log(`the queue could not be read (${error instanceof Error ? error.name : 'error'})`);
      return;
    }
    this.emit('queue:changed', queue);
    this.emitStatus(queue);
  }

  private setOnline(online: boolean): void {
    if (this.online === online) return;
    this.online = online;
    this.emitStatus();
  }

  private emitStatus(queue?: QueueItem[]): void {
    if (this.closed) return;
    let status: StatusSummary;
    try {
      status = this.status(queue);
    } catch {
      return;
    }
    const text = JSON.stringify(status);
    if (text === this.lastStatus) return;
    this.lastStatus = text;
    this.emit('status:changed', status);
  }

  private status(queue: QueueItem[] = this.views.queue()): StatusSummary {
    const count = (states: readonly string[]) => queue.filter((item) => states.includes(item.state)).length;
    const queued = count(['queued']);
    const sending = count(['uploading', 'completing', 'forwarding']);
    const failed = count(['failed']);
    const signedIn = this.session !== null;
    // Attention: something failed, or studies wait for something only a person can fix.
    const blocked = queue.some((item) => item.state === 'queued' && (item.error?.code === 'SESSION_EXPIRED' || item.error?.code === 'NOT_ALLOWED'));
    const attention = failed > 0 || blocked || (!signedIn && queued + sending > 0) || (signedIn && !this.online && queued + sending > 0);
    return {
      online: this.online, signedIn,
      activity: attention ? 'attention' : sending > 0 ? 'sending' : 'idle',
      queued, sending, failed,
    };
  }

  /** Logs a refusal by channel and code only; an unexpected one with the error's class name. */
  private report(channel: InvokeChannel, error: CodedError): void {
    if (error.code === 'INVALID_REQUEST' || error.code === 'SIGN_IN_FAILED') return; // the person sees it; nothing for IT
    this.log(`${channel}: ${error.code}${error.detail ? ` (${error.detail})` : ''}`);
  }
}
