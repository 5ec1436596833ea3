import { isAbsolute } from 'node:path';
import type {
  AttachPhotosRequest, HistoryFilter, InvokeChannel, InvokeRequest, JobActionRequest, NewPhotoStudy, SendRequest, ServiceLevel, Settings, SignInRequest,
  WatchedFolder,
} from '../common/ipc-contract.js';
import { CodedFailure, sentence } from '../core/coded-error.js';

/**
 * Hand-written checks of every request that crosses IPC. The renderer is trusted code, but a
 * compromised or buggy page must not reach the core with a wrong shape: each check names the field
 * and what it should be, and unknown fields are refused (a typo is not silently ignored).
 */
type Validator<C extends InvokeChannel> = (request: unknown) => InvokeRequest<C>;

/** Collects problems for one request; `fail()` throws them as one INVALID_REQUEST. */
class Problems {
  readonly list: string[] = [];
  add(problem: string): void {
    this.list.push(problem);
  }
  fail(): never {
    throw new CodedFailure('INVALID_REQUEST', sentence(this.list.join('; ')));
  }
  done(): void {
    if (this.list.length > 0) this.fail();
  }
}

const SERVICE_LEVELS: readonly ServiceLevel[] = ['STAT', 'ROUTINE'];
/** DICOM UID: digits and dots, at most 64 characters (PS3.5 §9.1). */
const UID = /^[0-9]+(\.[0-9]+)*$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const MAX_PATHS = 1000;
const MAX_STUDIES = 1000;
/** The relay's limit on clinical history (server/src/protocol/upload-protocol.ts). */
export const MAX_CLINICAL_HISTORY = 10_000;
const MAX_TEXT = 256;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(request: unknown, what: string, allowed: readonly string[]): Record<string, unknown> {
  if (!isRecord(request)) throw new CodedFailure('INVALID_REQUEST', sentence(`${what} must be an object`));
  const unknown = Object.keys(request).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) throw new CodedFailure('INVALID_REQUEST', sentence(`${what} has unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k.slice(0, 40)}"`).join(', ')}`));
  return request;
}

function noPayload(request: unknown): void {
  if (request !== undefined && request !== null) throw new CodedFailure('INVALID_REQUEST', 'This request takes no values.');
}

function text(value: unknown, field: string, problems: Problems, options: { max?: number; optional?: boolean } = {}): string | undefined {
  if (value === undefined && options.optional) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    problems.add(`${field} must be filled in`);
    return undefined;
  }
  if (value.length > (options.max ?? MAX_TEXT)) {
    problems.add(`${field} must be at most ${options.max ?? MAX_TEXT} characters`);
    return undefined;
  }
  return value;
}

function bool(value: unknown, field: string, problems: Problems): boolean | undefined {
  if (typeof value !== 'boolean') {
    problems.add(`${field} must be true or false`);
    return undefined;
  }
  return value;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string, problems: Problems): T | undefined {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  problems.add(`${field} must be one of ${allowed.join(', ')}`);
  return undefined;
}

/** An http(s) address without credentials, query or fragment: what a relay URL can be. */
export function relayUrlProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return 'the relay address must be filled in';
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return 'the relay address must be a web address such as https://relay.hospital.example:8780';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'the relay address must start with https:// or http://';
  if (url.username || url.password) return 'the relay address must not contain a user name or password';
  if (url.search || url.hash) return 'the relay address must not contain ? or #';
  return undefined;
}

/** The relay URL as stored and compared: trimmed, no trailing slash. */
export function normalizeRelayUrl(value: string): string {
  const url = new URL(value.trim());
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function signIn(request: unknown): SignInRequest {
  const raw = object(request, 'the sign-in', ['relayUrl', 'username', 'password', 'totp']);
  const problems = new Problems();
  const urlProblem = relayUrlProblem(raw.relayUrl);
  if (urlProblem) problems.add(urlProblem);
  const username = text(raw.username, 'the user name', problems, { max: 128 });
  const password = typeof raw.password === 'string' && raw.password.length > 0 && raw.password.length <= 1024 ? raw.password : undefined;
  if (password === undefined) problems.add('the password must be filled in');
  let totp: string | undefined;
  // An empty code box is no code: the form sends '' when the account has no TOTP.
  if (raw.totp !== undefined && raw.totp !== '') {
    if (typeof raw.totp !== 'string' || !/^\d{6}$/.test(raw.totp.trim())) problems.add('the code must be six digits');
    else totp = raw.totp.trim();
  }
  problems.done();
  return { relayUrl: normalizeRelayUrl(raw.relayUrl as string), username: username!.trim(), password: password!, ...(totp ? { totp } : {}) };
}

function paths(request: unknown): { paths: string[] } {
  const raw = object(request, 'the import', ['paths']);
  if (!Array.isArray(raw.paths) || raw.paths.length === 0) throw new CodedFailure('INVALID_REQUEST', 'Choose at least one folder or file to import.');
  if (raw.paths.length > MAX_PATHS) throw new CodedFailure('INVALID_REQUEST', `Import at most ${MAX_PATHS} items at once; choose their folder instead.`);
  const problems = new Problems();
  for (const [index, path] of raw.paths.entries()) {
    if (typeof path !== 'string' || path.length === 0 || path.length > 4096 || path.includes('\0')) problems.add(`item ${index + 1} is not a file or folder path`);
    else if (!isAbsolute(path)) problems.add(`item ${index + 1} must be a full path, not a relative one`);
  }
  problems.done();
  return { paths: [...new Set(raw.paths as string[])] };
}

/** Patient ID and descriptions are DICOM LO, names PN: at most 64 characters (PS3.5 §6.2). */
const MAX_DICOM_TEXT = 64;

function attachPhotos(request: unknown): AttachPhotosRequest {
  const raw = object(request, 'the photos to attach', ['photos', 'target']);
  if (!Array.isArray(raw.photos) || raw.photos.length === 0) throw new CodedFailure('INVALID_REQUEST', 'Choose at least one photo to attach.');
  if (raw.photos.length > MAX_PATHS) throw new CodedFailure('INVALID_REQUEST', `Attach at most ${MAX_PATHS} photos at once.`);
  const problems = new Problems();
  for (const [index, path] of raw.photos.entries()) {
    if (typeof path !== 'string' || path.length === 0 || path.length > 4096 || path.includes('\0') || !isAbsolute(path)) problems.add(`photo ${index + 1} is not the full path of a photo`);
  }
  let target: AttachPhotosRequest['target'] | undefined;
  const rawTarget = raw.target;
  if (!isRecord(rawTarget) || Object.keys(rawTarget).length !== 1 || !('studyInstanceUid' in rawTarget || 'newStudy' in rawTarget)) {
    problems.add('say which study the photos go to: one of the review, or a new study');
  } else if ('studyInstanceUid' in rawTarget) {
    const uid = rawTarget.studyInstanceUid;
    if (typeof uid !== 'string' || uid.length > 64 || !UID.test(uid)) problems.add('the study to attach to needs a valid Study Instance UID');
    else target = { studyInstanceUid: uid };
  } else {
    const newStudy = newPhotoStudy(rawTarget.newStudy, problems);
    if (newStudy) target = { newStudy };
  }
  problems.done();
  return { photos: [...new Set(raw.photos as string[])], target: target! };
}

/** The new study's details as typed: trimmed, empty optional fields left out. */
function newPhotoStudy(value: unknown, problems: Problems): NewPhotoStudy | undefined {
  if (!isRecord(value)) {
    problems.add('the new study must be an object');
    return undefined;
  }
  const extra = Object.keys(value).filter((k) => !['patientName', 'patientId', 'birthDate', 'sex', 'studyDescription'].includes(k));
  if (extra.length > 0) problems.add(`the new study has unknown fields ${extra.map((k) => `"${k.slice(0, 40)}"`).join(', ')}`);
  const patientName = text(value.patientName, 'the patient name', problems, { max: MAX_DICOM_TEXT });
  const patientId = text(value.patientId, 'the patient ID', problems, { max: MAX_DICOM_TEXT });
  const given = (field: unknown) => field !== undefined && field !== null && field !== '';
  let birthDate: string | undefined;
  if (given(value.birthDate)) {
    const date = typeof value.birthDate === 'string' ? value.birthDate.trim() : '';
    // Round-tripped: Date.parse takes 2024-02-31 for 2 March.
    if (!ISO_DATE.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`)) || new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date) {
      problems.add('the birth date must be a date (YYYY-MM-DD)');
    } else if (date > localIsoDate(new Date())) problems.add('the birth date must not be in the future');
    else birthDate = date;
  }
  const sex = given(value.sex) ? oneOf(value.sex, ['M', 'F', 'O'] as const, 'the sex', problems) : undefined;
  const studyDescription = given(value.studyDescription) ? text(value.studyDescription, 'the description', problems, { max: MAX_DICOM_TEXT }) : undefined;
  if (patientName === undefined || patientId === undefined) return undefined;
  return {
    patientName: patientName.trim(), patientId: patientId.trim(),
    ...(birthDate ? { birthDate } : {}), ...(sex ? { sex } : {}), ...(studyDescription?.trim() ? { studyDescription: studyDescription.trim() } : {}),
  };
}

function localIsoDate(at: Date): string {
  return `${at.getFullYear()}-${String(at.getMonth() + 1).padStart(2, '0')}-${String(at.getDate()).padStart(2, '0')}`;
}

function send(request: unknown): SendRequest {
  const raw = object(request, 'the send request', ['studies']);
  if (!Array.isArray(raw.studies) || raw.studies.length === 0) throw new CodedFailure('INVALID_REQUEST', 'Choose at least one study to send.');
  if (raw.studies.length > MAX_STUDIES) throw new CodedFailure('INVALID_REQUEST', `Send at most ${MAX_STUDIES} studies at once.`);
  const problems = new Problems();
  const studies: SendRequest['studies'] = [];
  for (const [index, item] of raw.studies.entries()) {
    const label = `study ${index + 1}`;
    if (!isRecord(item)) {
      problems.add(`${label} must be an object`);
      continue;
    }
    const extra = Object.keys(item).filter((k) => !['studyInstanceUid', 'serviceLevel', 'clinicalHistory'].includes(k));
    if (extra.length > 0) problems.add(`${label} has unknown fields ${extra.map((k) => `"${k.slice(0, 40)}"`).join(', ')}`);
    const uid = item.studyInstanceUid;
    if (typeof uid !== 'string' || uid.length > 64 || !UID.test(uid)) problems.add(`${label} needs a valid Study Instance UID`);
    const serviceLevel = oneOf(item.serviceLevel, SERVICE_LEVELS, `the service level of ${label}`, problems);
    let clinicalHistory: string | undefined;
    if (item.clinicalHistory !== undefined && item.clinicalHistory !== null) {
      if (typeof item.clinicalHistory !== 'string') problems.add(`the clinical history of ${label} must be text`);
      else if (item.clinicalHistory.length > MAX_CLINICAL_HISTORY) problems.add(`the clinical history of ${label} must be at most ${MAX_CLINICAL_HISTORY} characters`);
      else if (item.clinicalHistory.trim() !== '') clinicalHistory = item.clinicalHistory.trim();
    }
    if (typeof uid === 'string' && serviceLevel) studies.push({ studyInstanceUid: uid, serviceLevel, ...(clinicalHistory ? { clinicalHistory } : {}) });
  }
  problems.done();
  return { studies };
}

function jobAction(request: unknown): JobActionRequest {
  const raw = object(request, 'the queue action', ['action', 'jobId']);
  const problems = new Problems();
  const action = oneOf(raw.action, ['pause', 'resume', 'cancel', 'retry'] as const, 'the action', problems);
  const jobId = raw.jobId === 'all' ? 'all' : typeof raw.jobId === 'number' && Number.isSafeInteger(raw.jobId) && raw.jobId > 0 ? raw.jobId : undefined;
  if (jobId === undefined) problems.add('the job must be a job number or "all"');
  problems.done();
  return { action: action!, jobId: jobId! };
}

function reportContentRequest(request: unknown): { reportId: number } {
  const raw = object(request, 'the report', ['reportId']);
  const problems = new Problems();
  if (typeof raw.reportId !== 'number' || !Number.isSafeInteger(raw.reportId) || raw.reportId < 1) problems.add('the report must be a report number');
  problems.done();
  return { reportId: raw.reportId as number };
}

function watchedFolder(request: unknown): WatchedFolder {
  const raw = object(request, 'the watched folder', ['path', 'serviceLevel', 'routingTag', 'afterDelivery', 'doneFolder', 'usePolling', 'locked']);
  const problems = new Problems();
  const path = text(raw.path, 'the folder', problems, { max: 4096 });
  if (path !== undefined && !isAbsolute(path)) problems.add('the folder must be a full path');
  const serviceLevel = oneOf(raw.serviceLevel, SERVICE_LEVELS, 'the service level', problems);
  const afterDelivery = oneOf(raw.afterDelivery, ['keep', 'move', 'delete'] as const, 'what happens after delivery', problems);
  const routingTag = raw.routingTag === '' ? undefined : text(raw.routingTag, 'the routing tag', problems, { max: 128, optional: true });
  const doneFolder = raw.doneFolder === '' ? undefined : text(raw.doneFolder, 'the done folder', problems, { max: 4096, optional: true });
  const usePolling = raw.usePolling === undefined ? false : bool(raw.usePolling, 'polling', problems);
  // `locked` is shown, never set, by the renderer: IT policy decides it.
  if (raw.locked !== undefined && typeof raw.locked !== 'boolean') problems.add('locked must be true or false');
  problems.done();
  return {
    path: path!, serviceLevel: serviceLevel!, afterDelivery: afterDelivery!, usePolling: usePolling!,
    ...(routingTag !== undefined ? { routingTag } : {}), ...(doneFolder !== undefined ? { doneFolder } : {}),
  };
}

function removeFolder(request: unknown): { path: string } {
  const raw = object(request, 'the folder to remove', ['path']);
  const problems = new Problems();
  const path = text(raw.path, 'the folder', problems, { max: 4096 });
  problems.done();
  return { path: path! };
}

function historyFilter(request: unknown): HistoryFilter {
  // No filter at all is every finished study.
  if (request === undefined || request === null) return {};
  const raw = object(request, 'the history filter', ['text', 'state', 'serviceLevel', 'from', 'to', 'report']);
  const problems = new Problems();
  const filter: HistoryFilter = {};
  if (raw.text !== undefined && raw.text !== '') {
    if (typeof raw.text !== 'string' || raw.text.length > MAX_TEXT) problems.add(`the search text must be at most ${MAX_TEXT} characters`);
    else filter.text = raw.text;
  }
  if (raw.state !== undefined) {
    const state = oneOf(raw.state, ['delivered', 'confirmed', 'failed', 'all'] as const, 'the state', problems);
    if (state) filter.state = state;
  }
  if (raw.serviceLevel !== undefined) {
    const level = oneOf(raw.serviceLevel, SERVICE_LEVELS, 'the service level', problems);
    if (level) filter.serviceLevel = level;
  }
  if (raw.report !== undefined) {
    const report = oneOf(raw.report, ['awaiting', 'preliminary', 'final', 'amended', 'any'] as const, 'the report filter', problems);
    if (report) filter.report = report;
  }
  for (const key of ['from', 'to'] as const) {
    const value = raw[key];
    if (value === undefined || value === '') continue;
    if (typeof value !== 'string' || !ISO_DATE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) problems.add(`the ${key === 'from' ? 'start' : 'end'} date must be a date (YYYY-MM-DD)`);
    else filter[key] = value;
  }
  if (filter.from && filter.to && filter.from > filter.to) problems.add('the start date must not be after the end date');
  problems.done();
  return filter;
}

const SETTINGS_KEYS = ['relayUrl', 'maxBytesPerSecond', 'routineWindows', 'notifications', 'updates', 'startAtLogin', 'theme'] as const satisfies readonly (keyof Settings)[];

/** Shape only; ranges that depend on the stored settings (the bandwidth floor) are the settings service's. */
function settingsPatch(request: unknown): Partial<Settings> {
  const raw = object(request, 'the settings', SETTINGS_KEYS);
  const problems = new Problems();
  const patch: Partial<Settings> = {};
  if (raw.relayUrl !== undefined) {
    const problem = relayUrlProblem(raw.relayUrl);
    if (problem) problems.add(problem);
    else patch.relayUrl = normalizeRelayUrl(raw.relayUrl as string);
  }
  if (raw.maxBytesPerSecond !== undefined) {
    if (typeof raw.maxBytesPerSecond !== 'number' || !Number.isSafeInteger(raw.maxBytesPerSecond) || raw.maxBytesPerSecond < 0) problems.add('the bandwidth cap must be a whole number of bytes per second (0 for no cap)');
    else patch.maxBytesPerSecond = raw.maxBytesPerSecond;
  }
  if (raw.routineWindows !== undefined) {
    if (!Array.isArray(raw.routineWindows) || raw.routineWindows.length > 24 || raw.routineWindows.some((w) => typeof w !== 'string' || w.length > 32)) {
      problems.add('the routine windows must be a list of time windows such as 20:00-07:00');
    } else patch.routineWindows = raw.routineWindows as string[];
  }
  if (raw.notifications !== undefined) {
    const n = isRecord(raw.notifications) ? raw.notifications : undefined;
    if (!n || Object.keys(n).some((k) => k !== 'statDelivered' && k !== 'failures' && k !== 'reports')) problems.add('notifications must say statDelivered, failures and reports');
    else {
      const statDelivered = bool(n.statDelivered, 'notify when a STAT study is in PACS', problems);
      const failures = bool(n.failures, 'notify about failures', problems);
      // Left out by a client that predates report notifications: on, the default.
      const reports = n.reports === undefined ? true : bool(n.reports, 'notify when a report is ready', problems);
      if (statDelivered !== undefined && failures !== undefined && reports !== undefined) patch.notifications = { statDelivered, failures, reports };
    }
  }
  if (raw.updates !== undefined) {
    const u = isRecord(raw.updates) ? raw.updates : undefined;
    if (!u || Object.keys(u).some((k) => k !== 'enabled' && k !== 'channel')) problems.add('updates must say enabled and channel');
    else {
      const enabled = bool(u.enabled, 'automatic updates', problems);
      const channel = oneOf(u.channel, ['stable', 'beta'] as const, 'the update channel', problems);
      if (enabled !== undefined && channel) patch.updates = { enabled, channel };
    }
  }
  if (raw.startAtLogin !== undefined) {
    const value = bool(raw.startAtLogin, 'start at login', problems);
    if (value !== undefined) patch.startAtLogin = value;
  }
  if (raw.theme !== undefined) {
    const theme = oneOf(raw.theme, ['system', 'light', 'dark'] as const, 'the theme', problems);
    if (theme) patch.theme = theme;
  }
  problems.done();
  return patch;
}

function chooseKind(request: unknown): { kind: 'folder' | 'files' } {
  const raw = object(request, 'the choice', ['kind']);
  const problems = new Problems();
  const kind = oneOf(raw.kind, ['folder', 'files'] as const, 'the kind', problems);
  problems.done();
  return { kind: kind! };
}

/** One validator per invoke channel: a missing one is a compile error. */
export const REQUEST_VALIDATORS: { [C in InvokeChannel]: Validator<C> } = {
  'session:get': noPayload,
  'session:sign-in': signIn,
  'session:sign-out': noPayload,
  'import:choose': chooseKind,
  'import:paths': paths,
  'import:attach-photos': attachPhotos,
  'import:send': send,
  'queue:list': noPayload,
  'queue:act': jobAction,
  'watch:list': noPayload,
  'watch:add': watchedFolder,
  'watch:remove': removeFolder,
  'history:list': historyFilter,
  'history:export': historyFilter,
  'settings:get': noPayload,
  'settings:set': settingsPatch,
  'status:get': noPayload,
  'reports:content': reportContentRequest,
};
