/**
 * Windows machine policy: HKLM\Software\Policies\RelayPACS, as Group Policy (build/policy/RelayPACS.admx)
 * or Intune's ADMX ingestion writes it. Only the machine hive is read: HKCU policies can be written by
 * the user they apply to, so they could not lock anything.
 *
 *   RelayPACS                      RelayUrl (REG_SZ), DeviceAccountName (REG_SZ),
 *                                  RequireDeviceEnrolment (REG_DWORD 0/1), MaxBandwidth (REG_SZ "4MB/s",
 *                                  "off", or REG_DWORD bytes per second), RoutineWindows (REG_MULTI_SZ,
 *                                  or REG_SZ "20:00-07:00,12:00-13:00"), UpdatesEnabled (REG_DWORD),
 *                                  UpdateChannel (REG_SZ stable|beta), StartAtLogin (REG_DWORD)
 *   RelayPACS\WatchedFolders       defaults for every folder: ServiceLevel, AfterDelivery, RoutingTag, UsePolling
 *   RelayPACS\WatchedFolders\<any> one folder: Path, ServiceLevel, RoutingTag, AfterDelivery, DoneFolder, UsePolling
 *
 * Value names are matched without regard to case, as Windows does.
 */
import type { CommandRunner } from './command-runner.js';
import type { PolicyKey, PolicyProblem, PolicySourceResult } from './policy-model.js';
import { validatePolicyDocument } from './policy-validation.js';
import { expandEnvironmentStrings, parseRegQueryOutput, RegQueryParseError, type RegKey, type RegValue } from './reg-query.js';

export const REGISTRY_POLICY_KEY = 'HKLM\\Software\\Policies\\RelayPACS';
const FULL_ROOT = 'HKEY_LOCAL_MACHINE\\Software\\Policies\\RelayPACS';

/**
 * The command that prints the policy key as UTF-8. reg.exe writes in the console's code page, which
 * would turn "D:\Röntgen" into mojibake, so cmd switches the code page to UTF-8 (65001) first; /reg:64
 * reads the 64-bit view whatever the bitness of the caller. With /s, cmd strips the outer quotes of the
 * /c line and runs the rest as written (execFileRunner passes cmd's arguments verbatim).
 */
export function registryPolicyCommand(key = REGISTRY_POLICY_KEY): { command: string; args: string[] } {
  return { command: 'cmd.exe', args: ['/d', '/s', '/c', `"chcp 65001 >nul & reg query "${key}" /s /reg:64"`] };
}

type Kind = 'string' | 'boolean' | 'rate' | 'list';
interface Field { canonical: string; key: PolicyKey; kind: Kind }

/** Registry value name (lower case) → where it goes in the canonical document. */
const ROOT_FIELDS: Record<string, Field & { name: string }> = Object.fromEntries(([
  ['RelayUrl', 'relayUrl', 'relayUrl', 'string'],
  ['DeviceAccountName', 'deviceAccount.username', 'deviceAccount', 'string'],
  ['RequireDeviceEnrolment', 'deviceAccount.requireEnrolment', 'deviceAccount', 'boolean'],
  ['MaxBandwidth', 'maxBytesPerSecond', 'maxBytesPerSecond', 'rate'],
  ['RoutineWindows', 'routineWindows', 'routineWindows', 'list'],
  ['UpdatesEnabled', 'updates.enabled', 'updates', 'boolean'],
  ['UpdateChannel', 'updates.channel', 'updates', 'string'],
  ['StartAtLogin', 'startAtLogin', 'startAtLogin', 'boolean'],
  ['AllowFileCredentialStore', 'allowFileCredentialStore', 'allowFileCredentialStore', 'boolean'],
] as const).map(([name, canonical, key, kind]) => [name.toLowerCase(), { name, canonical, key, kind }]));

const FOLDER_FIELDS: Record<string, { name: string; field: string; kind: Kind }> = Object.fromEntries(([
  ['Path', 'path', 'string'],
  ['ServiceLevel', 'serviceLevel', 'string'],
  ['RoutingTag', 'routingTag', 'string'],
  ['AfterDelivery', 'afterDelivery', 'string'],
  ['DoneFolder', 'doneFolder', 'string'],
  ['UsePolling', 'usePolling', 'boolean'],
] as const).map(([name, field, kind]) => [name.toLowerCase(), { name, field, kind }]));
/** Every value name the loader knows, as build/policy/RelayPACS.admx writes them. */
export const REGISTRY_VALUE_NAMES = Object.values(ROOT_FIELDS).map((f) => f.name);
export const REGISTRY_FOLDER_VALUE_NAMES = Object.values(FOLDER_FIELDS).map((f) => f.name);
const DEFAULT_FIELDS = new Set(['serviceLevel', 'routingTag', 'afterDelivery', 'usePolling']);

export interface RegistryPolicyOptions {
  run: CommandRunner;
  /** For REG_EXPAND_SZ values (%ProgramData%...). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Runs reg.exe and reads the policy; never throws: a failure is a 'failed' source. */
export async function loadRegistryPolicy(options: RegistryPolicyOptions): Promise<PolicySourceResult> {
  const { command, args } = registryPolicyCommand();
  let result;
  try {
    result = await options.run(command, args);
  } catch (error) {
    return failed(`reg.exe could not be run: ${(error as Error).message}`);
  }
  if (result.code !== 0) {
    // reg.exe exits 1 with this sentence when the key does not exist: no policy, which is normal.
    if (/unable to find the specified registry key/i.test(result.stderr + result.stdout)) return absent();
    return failed(`reg query exited with ${result.code}: ${(result.stderr || result.stdout).trim().slice(0, 300)}`);
  }
  return registryPolicyFromOutput(result.stdout, options.env ?? {});
}

/** The reading itself, from recorded `reg query /s` output. */
export function registryPolicyFromOutput(output: string, env: Readonly<Record<string, string | undefined>> = {}): PolicySourceResult {
  let keys: RegKey[];
  try {
    keys = parseRegQueryOutput(output);
  } catch (error) {
    if (error instanceof RegQueryParseError) return failed(`the output of reg query could not be read: ${error.message}`);
    throw error;
  }
  const problems: PolicyProblem[] = [];
  const typeFailures = new Set<PolicyKey>();
  const names = new Map<string, string>();
  const document: Record<string, unknown> = {};
  const folders: { shown: string; fields: Record<string, unknown>; names: Map<string, string>; bad: boolean }[] = [];
  const defaults: Record<string, unknown> = {};
  let folderKeySeen = false;

  for (const key of keys) {
    const relative = relativeKey(key.path);
    if (relative === null) {
      problems.push({ source: REGISTRY_POLICY_KEY, key: key.path, severity: 'warning', message: `${key.path} is outside ${REGISTRY_POLICY_KEY}, ignored` });
      continue;
    }
    const parts = relative === '' ? [] : relative.split('\\');
    if (parts.length === 0) {
      for (const value of key.values) {
        const field = ROOT_FIELDS[value.name.toLowerCase()];
        if (!field) {
          problems.push(unknown(value.name, `known values: ${Object.values(ROOT_FIELDS).map((f) => f.name).join(', ')}`));
          continue;
        }
        const converted = convert(value, field.kind, env);
        if (!converted.ok) {
          problems.push({ source: REGISTRY_POLICY_KEY, key: field.name, severity: 'error', message: `${field.name}: ${converted.message}` });
          typeFailures.add(field.key);
          continue;
        }
        setPath(document, field.canonical, converted.value);
        names.set(field.canonical, field.name);
        if (field.key !== field.canonical) names.set(field.key, field.name);
      }
    } else if (parts[0]!.toLowerCase() === 'watchedfolders' && parts.length <= 2) {
      folderKeySeen = true;
      const isDefaults = parts.length === 1;
      const shown = isDefaults ? 'WatchedFolders' : `WatchedFolders\\${parts[1]}`;
      const folder = { shown, fields: isDefaults ? defaults : {}, names: new Map<string, string>(), bad: false };
      if (!isDefaults) folders.push(folder);
      for (const value of key.values) {
        const field = FOLDER_FIELDS[value.name.toLowerCase()];
        if (!field || (isDefaults && !DEFAULT_FIELDS.has(field.field))) {
          problems.push(unknown(`${shown}\\${value.name}`, isDefaults ? 'WatchedFolders itself holds defaults (ServiceLevel, RoutingTag, AfterDelivery, UsePolling); each folder is a subkey' : `a folder has ${Object.values(FOLDER_FIELDS).map((f) => f.name).join(', ')}`));
          continue;
        }
        const converted = convert(value, field.kind, env);
        if (!converted.ok) {
          // A folder (or the defaults) with a value of the wrong type is left out whole and the list stays locked.
          problems.push({ source: REGISTRY_POLICY_KEY, key: `${shown}\\${field.name}`, severity: 'error', message: `${shown}\\${field.name}: ${converted.message}${isDefaults ? '' : '; this folder is not watched'}` });
          typeFailures.add('watchedFolders');
          folder.bad = true;
          continue;
        }
        folder.fields[field.field] = converted.value;
        folder.names.set(field.field, `${shown}\\${field.name}`);
        if (isDefaults) names.set(`watchedFolderDefaults.${field.field}`, `${shown}\\${field.name}`);
      }
    } else {
      problems.push({ source: REGISTRY_POLICY_KEY, key: relative, severity: 'warning', message: `subkey ${relative} is not a RelayPACS policy, ignored` });
    }
  }
  if (folderKeySeen) {
    const good = folders.filter((f) => !f.bad);
    document.watchedFolders = good.map((f) => f.fields);
    good.forEach((f, index) => {
      names.set(`watchedFolders[${index}]`, f.shown);
      for (const [field, shown] of f.names) names.set(`watchedFolders[${index}].${field}`, shown);
    });
    if (Object.keys(defaults).length > 0) document.watchedFolderDefaults = defaults;
    names.set('watchedFolders', 'WatchedFolders');
    names.set('watchedFolderDefaults', 'WatchedFolders');
  }

  const validation = validatePolicyDocument(document, {
    source: REGISTRY_POLICY_KEY,
    pathStyle: 'win32',
    keyName: (path) => names.get(path) ?? path,
  });
  return {
    kind: 'windows-registry',
    location: REGISTRY_POLICY_KEY,
    status: keys.length === 0 ? 'absent' : 'applied',
    values: validation.values,
    failedKeys: [...new Set([...validation.failedKeys, ...typeFailures])],
    problems: [...problems, ...validation.problems],
  };
}

function relativeKey(path: string): string | null {
  const normalized = path.replace(/^HKLM\\/i, 'HKEY_LOCAL_MACHINE\\');
  if (normalized.toLowerCase() === FULL_ROOT.toLowerCase()) return '';
  if (normalized.toLowerCase().startsWith(`${FULL_ROOT.toLowerCase()}\\`)) return normalized.slice(FULL_ROOT.length + 1);
  return null;
}

type Converted = { ok: true; value: unknown } | { ok: false; message: string };

function convert(value: RegValue, kind: Kind, env: Readonly<Record<string, string | undefined>>): Converted {
  const text = (v: RegValue): string | undefined => v.type === 'REG_SZ' ? v.data : v.type === 'REG_EXPAND_SZ' ? expandEnvironmentStrings(v.data, env) : undefined;
  switch (kind) {
    case 'string': {
      const s = text(value);
      return s === undefined ? { ok: false, message: `must be a text value (REG_SZ), not ${value.type}` } : { ok: true, value: s };
    }
    case 'boolean':
      if (value.type !== 'REG_DWORD') return { ok: false, message: `must be REG_DWORD 1 (on) or 0 (off), not ${value.type}` };
      if (value.data !== 0 && value.data !== 1) return { ok: false, message: `must be 1 (on) or 0 (off), not ${value.data}` };
      return { ok: true, value: value.data === 1 };
    case 'rate':
      if (value.type === 'REG_DWORD' || value.type === 'REG_QWORD') return { ok: true, value: value.data };
      return text(value) === undefined ? { ok: false, message: `must be a rate such as 4MB/s (REG_SZ) or bytes per second (REG_DWORD), not ${value.type}` } : { ok: true, value: text(value) };
    case 'list':
      if (value.type === 'REG_MULTI_SZ') return { ok: true, value: value.data };
      return text(value) === undefined ? { ok: false, message: `must be REG_MULTI_SZ (one window per line) or REG_SZ (comma-separated), not ${value.type}` } : { ok: true, value: text(value) };
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const [head, tail] = path.split('.', 2) as [string, string | undefined];
  if (tail === undefined) {
    target[head] = value;
    return;
  }
  const inner = (target[head] ??= {}) as Record<string, unknown>;
  inner[tail] = value;
}

function unknown(name: string, hint: string): PolicyProblem {
  return { source: REGISTRY_POLICY_KEY, key: name, severity: 'warning', message: `unknown policy value ${name}, ignored (${hint})` };
}

function absent(): PolicySourceResult {
  return { kind: 'windows-registry', location: REGISTRY_POLICY_KEY, status: 'absent', values: {}, failedKeys: [], problems: [] };
}

function failed(message: string): PolicySourceResult {
  return { kind: 'windows-registry', location: REGISTRY_POLICY_KEY, status: 'failed', values: {}, failedKeys: [], problems: [{ source: REGISTRY_POLICY_KEY, severity: 'error', message }] };
}
