import type { Settings } from '../common/ipc-contract.js';
import { CodedFailure } from '../core/coded-error.js';
import type { Core } from '../core/create-core.js';
import { applyQueueAction, applyToAll, type QueueAction } from '../core/upload/queue-actions.js';
import type { SenderLoop } from '../core/upload/sender-loop.js';
import type { DesktopSettings, PolicyProvider } from './desktop-settings.js';
import type { EngineTracking } from './engine-tracking.js';
import type { ImportReviewer } from './import-review.js';
import type { Handlers } from './ipc-dispatch.js';
import type { JobViews } from './job-views.js';
import type { SessionLifecycle } from './session-lifecycle.js';
import type { StatusEvents } from './status-events.js';
import type { TransferSpeed } from './transfer-speed.js';
import type { WatchService } from './watch-service.js';

export interface HandlerServices {
  core: Pick<Core, 'db' | 'reports'>;
  chooseImportPaths: (kind: 'folder' | 'files') => Promise<string[]>;
  policy: PolicyProvider;
  settings: DesktopSettings;
  onSettingsChanged: ((settings: Settings) => void) | undefined;
  reviewer: ImportReviewer;
  views: JobViews;
  speed: TransferSpeed;
  watch: WatchService;
  loop: SenderLoop;
  session: SessionLifecycle;
  engines: EngineTracking;
  events: StatusEvents;
  log: (message: string) => void;
}

/** The desktop API's handler for each invoke channel, over the services that do the work. */
export function createHandlers(services: HandlerServices): Handlers {
  const { core, settings, reviewer, views, watch, loop, session, engines, events } = services;
  const refuseIfFoldersLocked = (): void => {
    if (services.policy().locked.watchedFolders) {
      throw new CodedFailure('NOT_ALLOWED', 'IT manages the watched folders of this workstation; they cannot be changed here.', 'locked: watchedFolders');
    }
  };
  return {
    'session:get': () => session.refresh(),
    'session:sign-in': (request) => session.signIn(request),
    'session:sign-out': () => session.signOut(),
    'import:choose': async ({ kind }) => {
      const chosen: unknown = await services.chooseImportPaths(kind);
      if (!Array.isArray(chosen) || chosen.some((p) => typeof p !== 'string')) throw new Error('the file dialog answered something other than a list of paths');
      return chosen as string[];
    },
    'import:paths': ({ paths }) => reviewer.importPaths(paths, (progress) => events.emit('import:progress', progress)),
    'import:attach-photos': (request) => reviewer.attachPhotos(request),
    'import:send': async ({ studies }) => {
      const engine = await engines.require('Sign in to send studies.');
      const known = core.db.prepare('SELECT 1 FROM studies WHERE study_instance_uid = ?');
      if (studies.some((s) => known.get(s.studyInstanceUid) === undefined)) {
        throw new CodedFailure('INVALID_REQUEST', 'A study to send is no longer in the catalog. Import it again, then send.');
      }
      const jobIds = core.db.transaction(() => studies.map((s) => engine.enqueue(s.studyInstanceUid, s.serviceLevel, s.clinicalHistory)))();
      loop.wake();
      events.queueChanged(true);
      return { jobIds: [...new Set(jobIds)] };
    },
    'queue:list': () => views.queue(),
    'queue:act': (request) => act(services, request.action, request.jobId),
    'watch:list': () => watch.list(),
    'watch:add': (folder) => {
      refuseIfFoldersLocked();
      return watch.add(folder);
    },
    'watch:remove': ({ path }) => {
      refuseIfFoldersLocked();
      return watch.remove(path);
    },
    'history:list': (filter) => views.history(filter),
    'reports:content': async ({ reportId }) => {
      const { contentType, body } = await core.reports.content(reportId);
      if (contentType.startsWith('application/pdf')) return { reportId, format: 'pdf', base64: body.toString('base64') };
      // SR (rendered by the relay), HL7 and CDA are text.
      return { reportId, format: 'text', text: body.toString('utf8') };
    },
    'history:export': (filter) => views.exportCsv(filter),
    'settings:get': () => settings.view(),
    'settings:set': (patch) => {
      const view = settings.set(patch);
      // A changed cap or window may release held studies.
      if (patch.maxBytesPerSecond !== undefined || patch.routineWindows !== undefined) loop.wake();
      services.onSettingsChanged?.(view.settings);
      return view;
    },
    'status:get': () => events.status(),
  };
}

/** queue:act: one job, or every job the action applies to (core/upload/queue-actions decides which). */
async function act(services: HandlerServices, action: QueueAction, target: number | 'all'): Promise<{ changed: number }> {
  const { core, engines, loop, speed, events } = services;
  const engine = await engines.require('Sign in to change the queue.');
  let changed: number[];
  let firstError: unknown;
  if (target === 'all') ({ changed, firstError } = await applyToAll(engine, core.db, action));
  else {
    const job = engine.jobs.find(target);
    if (!job) throw new CodedFailure('INVALID_REQUEST', `There is no job ${target} in the queue. Refresh the queue and try again.`);
    const accepted = new CodedFailure('INVALID_REQUEST', 'The relay has already accepted this study and is sending it to PACS; it cannot be called back.');
    if (action === 'cancel' && ['completing', 'forwarding'].includes(job.state)) throw accepted;
    try {
      changed = (await applyQueueAction(engine, core.db, action, target)) ? [target] : [];
    } catch (error) {
      changed = [];
      firstError = error;
    }
    if (action === 'cancel' && changed.length === 0 && firstError === undefined) throw accepted;
  }
  for (const id of changed) speed.forget(id);
  if (changed.length > 0) services.log(`queue: ${action} ${target === 'all' ? 'all' : `job ${target}`}: ${changed.length} changed`);
  loop.wake();
  await loop.settleWaiters();
  events.queueChanged(true);
  if (firstError !== undefined && changed.length === 0) throw firstError;
  return { changed: changed.length };
}
