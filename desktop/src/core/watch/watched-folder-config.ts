import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { ErrorCode } from '../../common/error-codes.js';

/** One watched folder and the defaults every study found in it is sent with. */
export interface WatchedFolderConfig {
  /** Absolute path of the folder (a local disk, a mounted share, or a UNC path \\server\share\...). */
  path: string;
  serviceLevel: 'STAT' | 'ROUTINE';
  /** Sent with the study so the relay can route it (e.g. "east-wing"); at most 128 characters. */
  routingTag?: string;
  /** What happens to the files once the PACS has confirmed delivery. */
  afterDelivery: 'keep' | 'move' | 'delete';
  /** Required for 'move': where delivered files go, their relative paths kept. Outside the watched folder. */
  doneFolder?: string;
  /** Poll instead of OS notifications: SMB/NFS shares do not deliver notifications reliably. Default: true for UNC paths. */
  usePolling?: boolean;
  /** How often polling looks at each file and folder. Default 1000. */
  pollIntervalMs?: number;
  /** A file is read only after its size and modification time have held still this long. Default 2000. */
  stabilityMs?: number;
  /** A study is handed on after no new instance of it arrived for this long. Default 30000. */
  studyQuietMs?: number;
  /** How often the whole folder is walked to catch files the notifications missed. Default 60000. */
  reconcileIntervalMs?: number;
}

/** A validated configuration: paths absolute and normalised, every default filled in. */
export interface ResolvedWatchedFolderConfig {
  path: string;
  serviceLevel: 'STAT' | 'ROUTINE';
  routingTag?: string;
  afterDelivery: 'keep' | 'move' | 'delete';
  doneFolder?: string;
  usePolling: boolean;
  pollIntervalMs: number;
  stabilityMs: number;
  studyQuietMs: number;
  reconcileIntervalMs: number;
}

export type WatchedFolderConfigResult =
  | { ok: true; config: ResolvedWatchedFolderConfig }
  | { ok: false; code: ErrorCode; problems: string[] };

export const WATCH_DEFAULTS = {
  pollIntervalMs: 1_000,
  stabilityMs: 2_000,
  studyQuietMs: 30_000,
  reconcileIntervalMs: 60_000,
} as const;

/** Bounds that keep a typo (0, or a value in seconds) from spinning a CPU or stalling a study for a day. */
const LIMITS = {
  pollIntervalMs: [20, 600_000],
  stabilityMs: [50, 600_000],
  studyQuietMs: [100, 86_400_000],
  reconcileIntervalMs: [100, 86_400_000],
} as const satisfies Record<keyof typeof WATCH_DEFAULTS, readonly [number, number]>;

const SERVICE_LEVELS = ['STAT', 'ROUTINE'] as const;
const AFTER_DELIVERY = ['keep', 'move', 'delete'] as const;
/** The relay's routing field (facility) is limited to 128 characters. */
const ROUTING_TAG_MAX = 128;

/**
 * Checks a watched-folder configuration as it comes from a settings file or the UI (so `unknown`),
 * collecting every problem rather than stopping at the first, each in words a person can fix.
 */
export function validateWatchedFolderConfig(input: unknown): WatchedFolderConfigResult {
  const problems: string[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, code: 'INVALID_REQUEST', problems: ['the watched folder settings must be an object'] };
  }
  const raw = input as Record<string, unknown>;

  const path = absolutePath(raw.path, 'path', problems);
  const serviceLevel = oneOf(raw.serviceLevel, SERVICE_LEVELS, 'serviceLevel', problems);
  const afterDelivery = oneOf(raw.afterDelivery, AFTER_DELIVERY, 'afterDelivery', problems);

  let routingTag: string | undefined;
  if (raw.routingTag !== undefined) {
    if (typeof raw.routingTag !== 'string' || raw.routingTag.trim() === '') problems.push('routingTag must be a non-empty text when given');
    else if (raw.routingTag.length > ROUTING_TAG_MAX) problems.push(`routingTag must be at most ${ROUTING_TAG_MAX} characters`);
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    else if (/[\u0000-\u001f\u007f]/.test(raw.routingTag)) problems.push('routingTag must not contain control characters');
    else routingTag = raw.routingTag.trim();
  }

  let doneFolder: string | undefined;
  if (raw.doneFolder !== undefined && raw.doneFolder !== '') doneFolder = absolutePath(raw.doneFolder, 'doneFolder', problems);
  if (afterDelivery === 'move' && raw.doneFolder === undefined) problems.push('doneFolder is required when afterDelivery is "move"');
  if (path && doneFolder) {
    // Moved files must never land where the watcher would find them again (and send them twice),
    // and the watched folder inside the done folder could receive a moved file through a subfolder name.
    if (isSameOrInside(path, doneFolder)) problems.push('doneFolder must not be the watched folder or inside it');
    else if (isSameOrInside(doneFolder, path)) problems.push('the watched folder must not be inside doneFolder');
  }

  let usePolling = path !== undefined && isUncPath(path);
  if (raw.usePolling !== undefined) {
    if (typeof raw.usePolling !== 'boolean') problems.push('usePolling must be true or false');
    else usePolling = raw.usePolling;
  }

  const pollIntervalMs = milliseconds(raw, 'pollIntervalMs', problems);
  const stabilityMs = milliseconds(raw, 'stabilityMs', problems);
  const studyQuietMs = milliseconds(raw, 'studyQuietMs', problems);
  const reconcileIntervalMs = milliseconds(raw, 'reconcileIntervalMs', problems);

  if (problems.length > 0 || !path || !serviceLevel || !afterDelivery) return { ok: false, code: 'INVALID_REQUEST', problems };
  return {
    ok: true,
    config: {
      path, serviceLevel, afterDelivery, usePolling, pollIntervalMs, stabilityMs, studyQuietMs, reconcileIntervalMs,
      ...(routingTag !== undefined ? { routingTag } : {}),
      ...(doneFolder !== undefined ? { doneFolder } : {}),
    },
  };
}

/** Thrown by constructors that take a configuration; carries every problem found. */
export class WatchedFolderConfigError extends Error {
  readonly code: ErrorCode;
  constructor(readonly problems: readonly string[], code: ErrorCode = 'INVALID_REQUEST') {
    super(`invalid watched folder settings: ${problems.join('; ')}`);
    this.name = 'WatchedFolderConfigError';
    this.code = code;
  }
}

/** Validates or throws WatchedFolderConfigError. */
export function resolveWatchedFolderConfig(input: unknown): ResolvedWatchedFolderConfig {
  const result = validateWatchedFolderConfig(input);
  if (!result.ok) throw new WatchedFolderConfigError(result.problems, result.code);
  return result.config;
}

/** True when `child` is `parent` itself or somewhere below it (lexically; both absolute). */
export function isSameOrInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function absolutePath(value: unknown, field: string, problems: string[]): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push(`${field} must be a folder path`);
    return undefined;
  }
  if (!isAbsolute(value)) {
    // A relative path would depend on where the app happened to be started.
    problems.push(`${field} must be an absolute path`);
    return undefined;
  }
  return resolve(value);
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string, problems: string[]): T | undefined {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  problems.push(`${field} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  return undefined;
}

function milliseconds(raw: Record<string, unknown>, field: keyof typeof WATCH_DEFAULTS, problems: string[]): number {
  const value = raw[field];
  if (value === undefined) return WATCH_DEFAULTS[field];
  const [min, max] = LIMITS[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    problems.push(`${field} must be a whole number of milliseconds from ${min} to ${max}`);
    return WATCH_DEFAULTS[field];
  }
  return value;
}

/** \\server\share paths are network shares by construction, where OS notifications are unreliable. */
function isUncPath(path: string): boolean {
  return /^[\\/]{2}[^\\/]/.test(path);
}
