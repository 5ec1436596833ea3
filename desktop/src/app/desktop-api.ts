import { join } from 'node:path';
import type { EventChannel, EventChannels, InvokeChannel, InvokeResponse, IpcResult, Settings } from '../common/ipc-contract.js';
import { toCodedError } from '../core/coded-error.js';
import type { Core } from '../core/create-core.js';
import { AttachedPhotoFiles } from '../core/import/photo/photo-files.js';
import { SenderLoop } from '../core/upload/sender-loop.js';
import type { JobOutcome } from '../core/upload/upload-engine.js';
import { WatchedFoldersRepository } from '../core/watch/watched-folders-repository.js';
import { DesktopSettings, NO_POLICY, type PolicyProvider } from './desktop-settings.js';
import { EngineTracking } from './engine-tracking.js';
import { createHandlers } from './handler-table.js';
import { ImportReviewer } from './import-review.js';
import { dispatch, type Handlers } from './ipc-dispatch.js';
import { JobViews } from './job-views.js';
import { mayNotify, noticeFor, reportNotice, type DesktopNotice } from './notification-rules.js';
import { ReportFollower } from '../core/reports/report-follower.js';
import { PhotoAttachments } from './photo-attachments.js';
import { SessionLifecycle } from './session-lifecycle.js';
import { StatusEvents } from './status-events.js';
import { TransferSpeed } from './transfer-speed.js';
import { WatchService, type WatchTimings } from './watch-service.js';

export type { DesktopNotice } from './notification-rules.js';

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
  /** How often the relay is asked for new reports besides its events. Default 60 s. */
  reportsPollMs?: number;
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

export async function createDesktopApi(options: DesktopApiOptions): Promise<DesktopApi> {
  const service = new DesktopApiService(options);
  await service.start();
  return service;
}

/**
 * The composition: the services of the app layer wired together. Each job has its module: the
 * dispatch (ipc-dispatch), the handlers (handler-table), sign-in and what runs while signed in
 * (session-lifecycle), the engine and the relay's connectivity (engine-tracking), the events
 * (status-events), which finished jobs earn a notification (notification-rules).
 */
class DesktopApiService implements DesktopApi {
  readonly core: Core;
  private readonly log: (message: string) => void;
  private readonly speed = new TransferSpeed();
  private readonly views: JobViews;
  private readonly settings: DesktopSettings;
  private readonly loop: SenderLoop;
  private readonly events: StatusEvents;
  private readonly engines: EngineTracking;
  private readonly session: SessionLifecycle;
  private readonly handlers: Handlers;
  private readonly unsubscribeProgress: () => void;
  private readonly reports: ReportFollower;
  private closed = false;

  constructor(private readonly options: DesktopApiOptions) {
    const core = options.core;
    this.core = core;
    const log = options.log ?? ((message: string) => console.warn(`[desktop-api] ${message}`));
    this.log = log;
    const policy = options.policy ?? NO_POLICY;
    const now = options.now ?? (() => new Date());
    this.views = new JobViews(core.db, this.speed, now);
    this.settings = new DesktopSettings(core.db, core.settings, policy, now);
    this.events = new StatusEvents({
      queue: () => this.views.queue(),
      state: () => ({ signedIn: this.session.session !== null, online: this.engines.online }),
      closed: () => this.closed,
      intervalMs: options.queueEventIntervalMs ?? 250,
      log,
    });
    this.engines = new EngineTracking({
      core,
      active: () => !this.closed && this.session.session !== null,
      onOnlineChange: () => this.events.emitStatus(),
    });
    // Photos' Secondary Capture files live in the data folder, not tmp: the catalog needs them until sent.
    const photos = new PhotoAttachments({ catalog: core.catalog, imports: core.imports, files: new AttachedPhotoFiles(core.db, join(core.dataDir, 'photos')), now });
    const reviewer = new ImportReviewer({ db: core.db, catalog: core.catalog, imports: core.imports, tempDir: core.tempDir, photos });
    this.loop = new SenderLoop({
      engine: () => this.engines.engine(),
      onChange: () => this.events.queueChanged(),
      onFinished: (outcome) => this.finished(outcome),
      log,
      ...(options.senderIdleMs !== undefined ? { idleMs: options.senderIdleMs } : {}),
    });
    const watch = new WatchService({
      folders: new WatchedFoldersRepository(core.db, now),
      imports: core.imports,
      sender: async () => {
        const engine = await this.engines.engine();
        return {
          enqueue: (uid: string, level: 'STAT' | 'ROUTINE', history?: string, routingTag?: string) => {
            const id = engine.enqueue(uid, level, history, routingTag);
            this.loop.wake();
            this.events.queueChanged();
            return id;
          },
          // The sender loop sends it (STAT first, with everything else); the watcher waits for the end.
          run: (jobId: number) => this.loop.whenFinished(jobId),
        };
      },
      locked: () => policy().locked.watchedFolders === true,
      onChange: (folders) => this.events.emit('watch:changed', folders),
      log,
      ...(options.watchTimings ? { timings: options.watchTimings } : {}),
    });
    const reports = this.reports = new ReportFollower({
      db: core.db, reports: core.reports, events: () => core.relayEvents(), now, log,
      account: async () => {
        const info = await core.session.info();
        return info ? { relayUrl: info.relayUrl, username: info.username } : undefined;
      },
      ...(options.reportsPollMs !== undefined ? { intervalMs: options.reportsPollMs } : {}),
      onNew: (found) => this.reportsArrived(found.length),
    });
    this.session = new SessionLifecycle({
      core, policy, settings: this.settings, loop: this.loop, watch, engines: this.engines, events: this.events,
      probeMs: options.onlineProbeMs ?? 15_000, reports,
    });
    this.handlers = createHandlers({
      core, chooseImportPaths: options.chooseImportPaths, policy, settings: this.settings, onSettingsChanged: options.onSettingsChanged,
      reviewer, views: this.views, speed: this.speed, watch, loop: this.loop, session: this.session, engines: this.engines, events: this.events, log,
    });
    this.unsubscribeProgress = core.onUploadProgress((progress) => {
      this.speed.record(progress.jobId, progress.bytesSent, progress.totalBytes, progress.state === 'uploading');
      this.events.queueChanged();
    });
  }

  async start(): Promise<void> {
    try {
      this.settings.applyPolicy();
    } catch (error) {
      this.log(`policy values could not be applied (${toCodedError(error).code})`);
    }
    await this.session.start();
  }

  invoke(channel: string, request: unknown): Promise<IpcResult<never>> {
    return dispatch(this.handlers, channel, request, { closed: () => this.closed, log: this.log });
  }

  on<E extends EventChannel>(channel: E, listener: (payload: EventChannels[E]) => void): () => void {
    return this.events.on(channel, listener);
  }

  onEvent(listener: (channel: EventChannel, payload: EventChannels[EventChannel]) => void): () => void {
    return this.events.onEvent(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.close();
    this.loop.abandonWaiters('RelayPACS is closing');
    this.unsubscribeProgress();
    this.events.dispose();
    this.core.close();
  }

  /** New reports: the history refreshes, and a notice says so (no patient, study or finding). */
  private reportsArrived(count: number): void {
    if (this.closed) return;
    this.events.emit('reports:changed', { count });
    const notify = this.options.notify;
    if (!notify) return;
    let settings: Settings;
    try {
      settings = this.settings.view().settings;
    } catch {
      return;
    }
    const notice = reportNotice(count, settings.notifications);
    if (notice) notify(notice);
  }

  private finished(outcome: JobOutcome): void {
    this.speed.forget(outcome.jobId);
    this.events.queueChanged(true);
    if (outcome.state === 'delivered' || outcome.state === 'confirmed') this.reports.delivered();
    const notify = this.options.notify;
    if (!notify || !mayNotify(outcome.state)) return;
    let settings: Settings;
    try {
      settings = this.settings.view().settings;
    } catch {
      return;
    }
    const item = this.views.queueItemOf(outcome.jobId);
    if (!item) return;
    const notice = noticeFor(outcome.state, item, settings.notifications);
    if (notice) notify(notice);
  }
}
