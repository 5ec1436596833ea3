/**
 * Checks a policy document in the canonical shape (the JSON policy file, a managed-preferences plist,
 * or what the registry reader built from `reg query`) and keeps what is valid. Every problem names its
 * source and key in that source's own words. A key whose value is wrong is not applied and is reported
 * as failed, so the caller keeps it locked: a typo in a policy must never hand the setting back to the
 * user.
 */
import { posix, win32 } from 'node:path';
import { ByteRateError, parseByteRate } from '../settings/byte-rate.js';
import { formatTransferWindow, parseTransferWindow, TransferWindowError } from '../upload/transfer-window.js';
import type { DeviceAccountPolicy, PolicyKey, PolicyProblem, PolicyValues, PolicyWatchedFolder, PolicyWatchedFolderDefaults } from './policy-model.js';

/** Which path syntax the folders of a source are written in: the registry is Windows, /etc is POSIX. */
export type PathStyle = 'win32' | 'posix' | 'any';

export interface ValidationContext {
  /** Shown in every problem: a registry key, a file path. */
  source: string;
  pathStyle: PathStyle;
  /** The source's own name for a canonical key path ("watchedFolders[0].path" → "WatchedFolders\CT\Path"). */
  keyName?: (canonicalPath: string) => string;
}

export interface ValidationResult {
  values: PolicyValues;
  failedKeys: PolicyKey[];
  problems: PolicyProblem[];
}

const SERVICE_LEVELS = ['STAT', 'ROUTINE'] as const;
const AFTER_DELIVERY = ['keep', 'move', 'delete'] as const;
const CHANNELS = ['stable', 'beta'] as const;
const ROUTING_TAG_MAX = 128;
const USERNAME_MAX = 128;
/** Keys a policy document may carry for people, not for the app. */
const IGNORED_KEYS = new Set(['$schema', 'comment', 'description']);
const TOP_LEVEL_KEYS = new Set<string>(['relayUrl', 'deviceAccount', 'watchedFolders', 'watchedFolderDefaults', 'maxBytesPerSecond', 'routineWindows', 'updates', 'startAtLogin', 'allowFileCredentialStore']);

/** Thrown inside a key's check: the message becomes that key's problem. */
class Invalid extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
  }
}

export function validatePolicyDocument(document: unknown, context: ValidationContext): ValidationResult {
  const problems: PolicyProblem[] = [];
  const failedKeys: PolicyKey[] = [];
  const values: PolicyValues = {};
  const name = (path: string): string => context.keyName?.(path) ?? path;

  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    return { values, failedKeys: [], problems: [{ source: context.source, severity: 'error', message: 'the policy must be an object of settings (a JSON object, a plist dictionary)' }] };
  }
  const raw = document as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!TOP_LEVEL_KEYS.has(key) && !IGNORED_KEYS.has(key)) {
      problems.push({ source: context.source, key: name(key), severity: 'warning', message: `unknown policy key ${name(key)}, ignored (known keys: ${[...TOP_LEVEL_KEYS].map(name).join(', ')})` });
    }
  }

  /** Runs one key's check; a throw fails that key only. */
  const check = <K extends PolicyKey>(key: K, present: boolean, parse: () => PolicyValues[K], extraProblems?: PolicyProblem[]): void => {
    if (!present) return;
    try {
      const value = parse();
      if (value !== undefined) values[key] = value;
      if (extraProblems?.some((p) => p.severity === 'error')) failedKeys.push(key);
    } catch (error) {
      if (!(error instanceof Invalid)) throw error;
      failedKeys.push(key);
      problems.push({ source: context.source, key: name(error.path), severity: 'error', message: `${name(error.path)}: ${error.message}` });
    }
    if (extraProblems) problems.push(...extraProblems);
  };

  check('relayUrl', raw.relayUrl !== undefined, () => relayUrl(raw.relayUrl, 'relayUrl'));
  check('deviceAccount', raw.deviceAccount !== undefined, () => deviceAccount(raw.deviceAccount));
  check('maxBytesPerSecond', raw.maxBytesPerSecond !== undefined, () => byteRate(raw.maxBytesPerSecond, 'maxBytesPerSecond'));
  check('routineWindows', raw.routineWindows !== undefined, () => windows(raw.routineWindows, 'routineWindows'));
  check('updates', raw.updates !== undefined, () => updates(raw.updates));
  check('startAtLogin', raw.startAtLogin !== undefined, () => boolean(raw.startAtLogin, 'startAtLogin'));
  check('allowFileCredentialStore', raw.allowFileCredentialStore !== undefined, () => boolean(raw.allowFileCredentialStore, 'allowFileCredentialStore'));

  // Folders: each bad folder is reported and left out; the list stays locked either way, so a broken
  // entry never lets the user replace what IT set.
  if (raw.watchedFolders !== undefined || raw.watchedFolderDefaults !== undefined) {
    const folderProblems: PolicyProblem[] = [];
    check('watchedFolders', true, () => {
      const defaults = raw.watchedFolderDefaults === undefined ? {} : folderDefaults(raw.watchedFolderDefaults);
      if (raw.watchedFolders === undefined) {
        // Defaults alone fix nothing: they only fill in folders that policy lists.
        folderProblems.push({ source: context.source, key: name('watchedFolderDefaults'), severity: 'warning', message: `${name('watchedFolderDefaults')} applies only to the folders policy lists, and none are listed` });
        return undefined;
      }
      if (!Array.isArray(raw.watchedFolders)) throw new Invalid('watchedFolders', 'must be a list of folders');
      const folders: PolicyWatchedFolder[] = [];
      const seen = new Set<string>();
      raw.watchedFolders.forEach((entry, index) => {
        const at = `watchedFolders[${index}]`;
        try {
          const folder = watchedFolder(entry, defaults, at, context.pathStyle);
          const identity = context.pathStyle === 'win32' ? folder.path.toLowerCase() : folder.path;
          if (seen.has(identity)) throw new Invalid(`${at}.path`, `the folder ${folder.path} is listed twice`);
          seen.add(identity);
          folders.push(folder);
        } catch (error) {
          if (!(error instanceof Invalid)) throw error;
          folderProblems.push({ source: context.source, key: name(error.path), severity: 'error', message: `${name(error.path)}: ${error.message}; this folder is not watched` });
        }
      });
      return folders;
    }, folderProblems);
  }
  return { values, failedKeys, problems };
}

function relayUrl(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new Invalid(path, 'must be the relay address, e.g. https://relay.example.org:8780');
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new Invalid(path, `"${value}" is not an address: write e.g. https://relay.example.org:8780`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Invalid(path, `"${value}" must start with https:// (or http:// on a trial network)`);
  // A password in a policy is a password published: policies are readable by every local user.
  if (url.username || url.password) throw new Invalid(path, 'must not contain a user name or password: policy never carries credentials');
  if (url.search || url.hash) throw new Invalid(path, 'must be the relay address only, without ?query or #fragment');
  return url.href.replace(/\/$/, '');
}

function deviceAccount(value: unknown): DeviceAccountPolicy {
  const raw = object(value, 'deviceAccount');
  for (const key of Object.keys(raw)) {
    if (key === 'password' || key === 'secret' || key === 'enrolmentSecret' || key === 'token') {
      throw new Invalid(`deviceAccount.${key}`, 'policy never carries a secret: enrol the workstation once instead (docs/deploy/it-guide.md)');
    }
    if (key !== 'username' && key !== 'requireEnrolment') throw new Invalid(`deviceAccount.${key}`, 'unknown key: deviceAccount has username and requireEnrolment');
  }
  let username: string | null = null;
  // Group Policy writes an empty text box as an empty string: that means "not set".
  if (raw.username !== undefined && raw.username !== '') {
    if (typeof raw.username !== 'string' || raw.username.trim() === '') throw new Invalid('deviceAccount.username', 'must be the relay account name, e.g. ct-01');
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    if (raw.username.length > USERNAME_MAX || /[\u0000-\u001f\u007f\s]/.test(raw.username.trim())) throw new Invalid('deviceAccount.username', `must be one word of at most ${USERNAME_MAX} characters`);
    username = raw.username.trim();
  }
  const requireEnrolment = raw.requireEnrolment === undefined ? username !== null : boolean(raw.requireEnrolment, 'deviceAccount.requireEnrolment');
  return { username, requireEnrolment };
}

function byteRate(value: unknown, path: string): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw new Invalid(path, 'must be a whole number of bytes per second (0 = no cap), or a rate such as "4MB/s" or "20Mbit/s"');
    return value;
  }
  if (typeof value === 'string') {
    try {
      return parseByteRate(value) ?? 0;
    } catch (error) {
      if (error instanceof ByteRateError) throw new Invalid(path, error.message);
      throw error;
    }
  }
  throw new Invalid(path, 'must be a rate such as "4MB/s", "20Mbit/s" or "off", or a number of bytes per second');
}

function windows(value: unknown, path: string): string[] {
  const list = typeof value === 'string' ? (value.trim() === '' ? [] : value.split(',')) : value;
  if (!Array.isArray(list)) throw new Invalid(path, 'must be a list of time windows such as "20:00-07:00" (empty = any time)');
  return list.map((entry, index) => {
    if (typeof entry !== 'string') throw new Invalid(`${path}[${index}]`, 'must be a time window such as "20:00-07:00"');
    try {
      return formatTransferWindow(parseTransferWindow(entry));
    } catch (error) {
      if (error instanceof TransferWindowError) throw new Invalid(path, error.message);
      throw error;
    }
  });
}

function updates(value: unknown): NonNullable<PolicyValues['updates']> {
  const raw = object(value, 'updates');
  const result: NonNullable<PolicyValues['updates']> = {};
  for (const key of Object.keys(raw)) {
    if (key !== 'enabled' && key !== 'channel') throw new Invalid(`updates.${key}`, 'unknown key: updates has enabled and channel');
  }
  if (raw.enabled !== undefined) result.enabled = boolean(raw.enabled, 'updates.enabled');
  if (raw.channel !== undefined) result.channel = oneOf(raw.channel, CHANNELS, 'updates.channel');
  return result;
}

function folderDefaults(value: unknown): PolicyWatchedFolderDefaults {
  const raw = object(value, 'watchedFolderDefaults');
  const defaults: PolicyWatchedFolderDefaults = {};
  for (const key of Object.keys(raw)) {
    if (!['serviceLevel', 'routingTag', 'afterDelivery', 'usePolling'].includes(key)) {
      throw new Invalid(`watchedFolderDefaults.${key}`, 'unknown key: defaults can set serviceLevel, routingTag, afterDelivery and usePolling');
    }
  }
  if (raw.serviceLevel !== undefined) defaults.serviceLevel = oneOf(raw.serviceLevel, SERVICE_LEVELS, 'watchedFolderDefaults.serviceLevel');
  if (raw.afterDelivery !== undefined) {
    const afterDelivery = oneOf(raw.afterDelivery, AFTER_DELIVERY, 'watchedFolderDefaults.afterDelivery');
    // "move" needs a done folder per folder; as a default it would break every folder that has none.
    if (afterDelivery === 'move') throw new Invalid('watchedFolderDefaults.afterDelivery', '"move" needs a doneFolder for each folder, so it cannot be a default: set it on each folder');
    defaults.afterDelivery = afterDelivery;
  }
  if (raw.routingTag !== undefined && raw.routingTag !== '') defaults.routingTag = routingTag(raw.routingTag, 'watchedFolderDefaults.routingTag');
  if (raw.usePolling !== undefined) defaults.usePolling = boolean(raw.usePolling, 'watchedFolderDefaults.usePolling');
  return defaults;
}

function watchedFolder(value: unknown, defaults: PolicyWatchedFolderDefaults, at: string, style: PathStyle): PolicyWatchedFolder {
  const raw = object(value, at);
  for (const key of Object.keys(raw)) {
    if (!['path', 'serviceLevel', 'routingTag', 'afterDelivery', 'doneFolder', 'usePolling'].includes(key)) {
      throw new Invalid(`${at}.${key}`, 'unknown key: a folder has path, serviceLevel, routingTag, afterDelivery, doneFolder and usePolling');
    }
  }
  const path = absolutePath(raw.path, `${at}.path`, style);
  const serviceLevel = raw.serviceLevel === undefined ? defaults.serviceLevel ?? 'ROUTINE' : oneOf(raw.serviceLevel, SERVICE_LEVELS, `${at}.serviceLevel`);
  const afterDelivery = raw.afterDelivery === undefined ? defaults.afterDelivery ?? 'keep' : oneOf(raw.afterDelivery, AFTER_DELIVERY, `${at}.afterDelivery`);
  const folder: PolicyWatchedFolder = { path, serviceLevel, afterDelivery };
  const tag = raw.routingTag === undefined || raw.routingTag === '' ? defaults.routingTag : routingTag(raw.routingTag, `${at}.routingTag`);
  if (tag !== undefined) folder.routingTag = tag;
  const polling = raw.usePolling === undefined ? defaults.usePolling : boolean(raw.usePolling, `${at}.usePolling`);
  if (polling !== undefined) folder.usePolling = polling;
  if (raw.doneFolder !== undefined && raw.doneFolder !== '') {
    const done = absolutePath(raw.doneFolder, `${at}.doneFolder`, style);
    const paths = pathModule(style, path);
    if (isSameOrInside(paths, path, done)) throw new Invalid(`${at}.doneFolder`, 'must not be the watched folder or inside it (moved files would be sent again)');
    if (isSameOrInside(paths, done, path)) throw new Invalid(`${at}.doneFolder`, 'must not contain the watched folder');
    folder.doneFolder = done;
  }
  if (afterDelivery === 'move' && folder.doneFolder === undefined) throw new Invalid(`${at}.doneFolder`, 'is required when afterDelivery is "move"');
  return folder;
}

function routingTag(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new Invalid(path, 'must be a non-empty text');
  if (value.length > ROUTING_TAG_MAX) throw new Invalid(path, `must be at most ${ROUTING_TAG_MAX} characters`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new Invalid(path, 'must not contain control characters');
  return value.trim();
}

function absolutePath(value: unknown, path: string, style: PathStyle): string {
  if (typeof value !== 'string' || value.trim() === '') throw new Invalid(path, 'must be a folder path');
  const text = value.trim();
  const absolute = style === 'win32' ? win32.isAbsolute(text) && !/^[\\/](?![\\/])/.test(text)
    : style === 'posix' ? posix.isAbsolute(text)
      : posix.isAbsolute(text) || /^([a-zA-Z]:[\\/]|[\\/]{2}[^\\/])/.test(text);
  // A relative path would depend on where the app was started; "\folder" on Windows depends on the drive.
  if (!absolute) throw new Invalid(path, `"${text}" must be an absolute path${style === 'win32' ? ' (D:\\Exports or \\\\server\\share\\folder)' : ''}`);
  return pathModule(style, text).normalize(text);
}

function pathModule(style: PathStyle, sample: string): typeof win32 {
  if (style === 'win32') return win32;
  if (style === 'posix') return posix;
  return posix.isAbsolute(sample) && !sample.startsWith('//') ? posix : win32;
}

function isSameOrInside(paths: typeof win32, parent: string, child: string): boolean {
  const rel = paths === win32 ? win32.relative(parent.toLowerCase(), child.toLowerCase()) : paths.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${paths.sep}`) && !paths.isAbsolute(rel));
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Invalid(path, 'must be a group of settings (an object)');
  return value as Record<string, unknown>;
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new Invalid(path, 'must be true or false');
  return value;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new Invalid(path, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}${typeof value === 'string' ? `, not "${value}"` : ''}`);
}
