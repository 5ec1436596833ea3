/**
 * The one IPC contract between the renderer and the main process (ARCHITECTURE.md: common). Every
 * request the renderer can make is an entry of `InvokeChannels`; every push from main is an entry of
 * `EventChannels`. The preload builds `window.api` from `INVOKE_CHANNELS` and `EVENT_CHANNELS` (one
 * method per channel, nothing else), main registers one handler per channel, and the browser test
 * harness serves the same map from the real core. Types only cross: plain JSON-safe data, no PHI in
 * anything that is logged.
 */
import type { CodedError } from './error-codes.js';

export type ServiceLevel = 'STAT' | 'ROUTINE';

/** Job states of the upload queue, in the words the queue shows (see `JOB_STATE_LABELS`). */
export type JobState = 'queued' | 'uploading' | 'completing' | 'forwarding' | 'delivered' | 'confirmed' | 'failed' | 'paused' | 'cancelled';

export interface SessionInfo {
  relayUrl: string;
  username: string;
  role: string;
}

export interface SignInRequest {
  relayUrl: string;
  username: string;
  password: string;
  /** Six digits, when the account has TOTP enrolled. */
  totp?: string;
}

/** What one study found by an import looks like in the review before sending. */
export interface ReviewStudy {
  studyInstanceUid: string;
  patientName: string;
  patientId: string;
  studyDate: string;
  description: string;
  modalities: string[];
  seriesCount: number;
  instanceCount: number;
  totalBytes: number;
  /** Instances whose UID is in the catalog with different bytes. */
  conflicts: number;
  /**
   * Instances that were bare data sets (no DICOM file header: preamble, "DICM", file meta) and are
   * sent in the Part 10 file made for them, the data set unchanged: "DICOM file header added".
   */
  fileHeaderAdded: number;
}

export interface ImportProblem {
  /** The file (or archive entry) as the user knows it. */
  displayName: string;
  code: CodedError['code'];
  reason: string;
}

/**
 * A JPEG or PNG photo (a wound photo, a scanned request form) an import found. Photos carry no
 * patient or study, so they wait in the review until the user attaches them to one.
 */
export interface ReviewPhoto {
  /** Where it is on disk: what import:attach-photos names it by. */
  path: string;
  /** The file as the user knows it. */
  displayName: string;
  /** Pixels across and down, as the image will be sent (after the camera's turn). */
  width?: number;
  height?: number;
}

export interface ImportReview {
  runId: number;
  /** Of DICOM files; photos waiting in `photos` are not counted (found, they are listed there). */
  counts: { found: number; imported: number; duplicates: number; conflicts: number; skipped: number };
  studies: ReviewStudy[];
  problems: ImportProblem[];
  /**
   * Photos found that are not attached to a study yet. A photo attached before is not listed again:
   * its study is in `studies`, the photo counted as already imported. A photo that cannot be read
   * or converted is in `problems`.
   */
  photos: ReviewPhoto[];
}

/** Who photos attached to a new study belong to, as the user entered it from the request form. */
export interface NewPhotoStudy {
  /** "Family, Given" as typed, or a DICOM name (FAMILY^GIVEN). */
  patientName: string;
  patientId: string;
  /** YYYY-MM-DD. */
  birthDate?: string;
  sex?: 'M' | 'F' | 'O';
  studyDescription?: string;
}

export interface AttachPhotosRequest {
  /** Paths of photos of the review (`ReviewPhoto.path`). */
  photos: string[];
  /** A study of the review (the photos join it as a new series), or a new study for them. */
  target: { studyInstanceUid: string } | { newStudy: NewPhotoStudy };
}

export interface ImportProgressEvent {
  found: number;
  imported: number;
  duplicates: number;
  skipped: number;
  current?: string;
}

export interface SendRequest {
  studies: { studyInstanceUid: string; serviceLevel: ServiceLevel; clinicalHistory?: string }[];
}

export interface QueueItem {
  jobId: number;
  studyInstanceUid: string;
  patientName: string;
  description: string;
  serviceLevel: ServiceLevel;
  state: JobState;
  bytesSent: number;
  totalBytes: number;
  /** Bytes per second over the last few seconds; 0 when not sending. */
  bytesPerSecond: number;
  /** Seconds until sent at the current speed; null when unknown. */
  etaSeconds: number | null;
  instanceCount: number;
  /** Images sent in a Part 10 file made for a bare data set ("DICOM file header added"); absent when none. */
  fileHeaderAdded?: number;
  /** Why it failed or waits, in words a radiographer can act on. */
  error?: { code: string; message: string };
  createdAt: string;
  updatedAt: string;
}

export type JobAction = 'pause' | 'resume' | 'cancel' | 'retry';

export interface JobActionRequest {
  action: JobAction;
  /** One job, or every job the action applies to. */
  jobId: number | 'all';
}

export interface WatchedFolder {
  path: string;
  serviceLevel: ServiceLevel;
  routingTag?: string;
  afterDelivery: 'keep' | 'move' | 'delete';
  doneFolder?: string;
  usePolling: boolean;
  /** Set by IT policy: shown, not editable. */
  locked?: boolean;
}

export interface WatchedFolderStatus extends WatchedFolder {
  state: 'watching' | 'missing' | 'starting' | 'error';
  lastFileSeen?: { name: string; at: string };
  /** Studies that have files but have not been quiet long enough to send. */
  studiesSettling: number;
  message?: string;
}

export interface HistoryFilter {
  /** Free text over patient name, ID, description. */
  text?: string;
  /** By the study's newest report: none yet ('awaiting'), or its status. */
  report?: 'awaiting' | 'preliminary' | 'final' | 'amended' | 'any';
  state?: 'delivered' | 'confirmed' | 'failed' | 'all';
  serviceLevel?: ServiceLevel;
  /** ISO dates, inclusive. */
  from?: string;
  to?: string;
}

export interface HistoryItem {
  jobId: number;
  studyInstanceUid: string;
  patientName: string;
  patientId: string;
  studyDate: string;
  description: string;
  serviceLevel: ServiceLevel;
  state: JobState;
  instanceCount: number;
  /** Images sent in a Part 10 file made for a bare data set ("DICOM file header added"); absent when none. */
  fileHeaderAdded?: number;
  totalBytes: number;
  finishedAt: string;
  error?: { code: string; message: string };
  /** The newest report the relay found in the PACS for this job's upload; absent while none. */
  report?: HistoryReport;
}

export type ReportStatus = 'preliminary' | 'final' | 'amended';

export interface HistoryReport {
  reportId: number;
  status: ReportStatus;
  kind: 'sr' | 'pdf' | 'cda' | 'hl7';
  /** The document title's meaning (a code meaning, e.g. "CT Report"). */
  title?: string;
  detectedAt: string;
  /** False once the relay's retention dropped it: it is read in the PACS then. */
  contentAvailable: boolean;
}

/** A report to read: text (an SR rendered as text, HL7), or a document's bytes (a PDF) as base64. */
export type ReportContent =
  | { reportId: number; format: 'text'; text: string }
  | { reportId: number; format: 'pdf'; base64: string };

export interface Settings {
  relayUrl: string;
  /** Bytes per second; 0 = no cap. */
  maxBytesPerSecond: number;
  /** "HH:MM-HH:MM" windows when routine studies are sent; empty = any time. */
  routineWindows: string[];
  /** OS notifications: a STAT study in PACS, a study that needs attention, a report ready. */
  notifications: { statDelivered: boolean; failures: boolean; reports: boolean };
  updates: { enabled: boolean; channel: 'stable' | 'beta' };
  startAtLogin: boolean;
  theme: 'system' | 'light' | 'dark';
}

/** Which settings IT policy has fixed (shown as locked, refused if changed). */
export type LockedSettings = Partial<Record<keyof Settings | 'watchedFolders', true>>;

export interface SettingsView {
  settings: Settings;
  locked: LockedSettings;
}

export interface StatusSummary {
  online: boolean;
  signedIn: boolean;
  /** Tray and title state at a glance. */
  activity: 'idle' | 'sending' | 'attention';
  queued: number;
  sending: number;
  failed: number;
}

/** request → response of every renderer → main call. */
export interface InvokeChannels {
  'session:get': { request: void; response: SessionInfo | null };
  'session:sign-in': { request: SignInRequest; response: SessionInfo };
  'session:sign-out': { request: void; response: void };
  'import:choose': { request: { kind: 'folder' | 'files' }; response: string[] };
  'import:paths': { request: { paths: string[] }; response: ImportReview };
  /**
   * Makes the photos Secondary Capture images of the target study and adds them to the catalog, so
   * they are sent with it. Answers the review of this attachment, for the renderer to merge into
   * the one it shows: the study refreshed (its new series and images), the photos as counts, any
   * photo that could not be converted in `problems`, and `photos` empty.
   */
  'import:attach-photos': { request: AttachPhotosRequest; response: ImportReview };
  'import:send': { request: SendRequest; response: { jobIds: number[] } };
  'queue:list': { request: void; response: QueueItem[] };
  'queue:act': { request: JobActionRequest; response: { changed: number } };
  'watch:list': { request: void; response: WatchedFolderStatus[] };
  'watch:add': { request: WatchedFolder; response: WatchedFolderStatus[] };
  'watch:remove': { request: { path: string }; response: WatchedFolderStatus[] };
  'history:list': { request: HistoryFilter; response: HistoryItem[] };
  'history:export': { request: HistoryFilter; response: { csv: string; rows: number } };
  'settings:get': { request: void; response: SettingsView };
  'settings:set': { request: Partial<Settings>; response: SettingsView };
  'status:get': { request: void; response: StatusSummary };
  /** Fetches a report from the relay to read it (the relay audits each read). */
  'reports:content': { request: { reportId: number }; response: ReportContent };
}

/** Payloads of every main → renderer push. */
export interface EventChannels {
  'queue:changed': QueueItem[];
  'import:progress': ImportProgressEvent;
  'watch:changed': WatchedFolderStatus[];
  'status:changed': StatusSummary;
  /** New reports arrived (how many): the history refreshes. */
  'reports:changed': { count: number };
}

export type InvokeChannel = keyof InvokeChannels;
export type EventChannel = keyof EventChannels;
export type InvokeRequest<C extends InvokeChannel> = InvokeChannels[C]['request'];
export type InvokeResponse<C extends InvokeChannel> = InvokeChannels[C]['response'];

/** Runtime lists, checked against the maps so a channel cannot be added on one side only. */
export const INVOKE_CHANNELS = [
  'session:get', 'session:sign-in', 'session:sign-out', 'import:choose', 'import:paths', 'import:attach-photos', 'import:send',
  'queue:list', 'queue:act', 'watch:list', 'watch:add', 'watch:remove', 'history:list', 'history:export',
  'settings:get', 'settings:set', 'status:get', 'reports:content',
] as const satisfies readonly InvokeChannel[];
export const EVENT_CHANNELS = ['queue:changed', 'import:progress', 'watch:changed', 'status:changed', 'reports:changed'] as const satisfies readonly EventChannel[];

type Missing<All, Listed> = Exclude<All, Listed> extends never ? true : Exclude<All, Listed>;
// Compile-time: every channel of the maps is listed at runtime.
export const CONTRACT_COMPLETE: [Missing<InvokeChannel, (typeof INVOKE_CHANNELS)[number]>, Missing<EventChannel, (typeof EVENT_CHANNELS)[number]>] = [true, true];

/**
 * Results cross IPC as a tagged union: Electron turns a thrown error into an opaque string, and
 * the renderer needs the stable code and the sentence to show.
 */
export type IpcResult<T> = { ok: true; value: T } | { ok: false; error: CodedError };

/**
 * The `window.api` the preload exposes: one method per channel and nothing else. Invoke methods are
 * named by their channel (`api['queue:list']()`); event subscriptions by `on:` and the channel,
 * returning the unsubscribe.
 */
export type RendererApi = {
  [C in InvokeChannel]: (request: InvokeRequest<C>) => Promise<IpcResult<InvokeResponse<C>>>;
} & {
  [E in EventChannel as `on:${E}`]: (listener: (payload: EventChannels[E]) => void) => () => void;
};

/** Plain words for each job state, as the queue and history show them. */
export const JOB_STATE_LABELS: Record<JobState, string> = {
  queued: 'Waiting to send',
  uploading: 'Sending',
  completing: 'Checking at the relay',
  forwarding: 'Relay is sending to PACS',
  delivered: 'In PACS',
  confirmed: 'In PACS, confirmed',
  failed: 'Needs attention',
  paused: 'Paused',
  cancelled: 'Cancelled',
};

/**
 * Builds the `window.api` object from the channel lists: one method per channel and nothing else.
 * The preload passes ipcRenderer-backed transports; the browser test harness passes Playwright
 * bindings, so both serve the renderer exactly the same surface.
 */
export function buildRendererApi(
  invoke: (channel: InvokeChannel, request: unknown) => Promise<IpcResult<unknown>>,
  subscribe: (channel: EventChannel, listener: (payload: unknown) => void) => () => void,
): RendererApi {
  const api: Record<string, unknown> = {};
  for (const channel of INVOKE_CHANNELS) api[channel] = (request: unknown) => invoke(channel, request);
  for (const channel of EVENT_CHANNELS) api[`on:${channel}`] = (listener: (payload: unknown) => void) => subscribe(channel, listener);
  return Object.freeze(api) as RendererApi;
}
