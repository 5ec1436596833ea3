/**
 * Policy sources that are files: macOS managed preferences (a plist an MDM profile installs), the Linux
 * machine policy /etc/relaypacs/policy.json, and a JSON policy file on any OS. All three use the same
 * keys (build/policy/policy.example.json shows every one).
 */
import type { CommandRunner } from './command-runner.js';
import type { PolicySourceKind, PolicySourceResult } from './policy-model.js';
import { validatePolicyDocument, type PathStyle } from './policy-validation.js';
import { isBinaryPlist, parseXmlPlist, PlistParseError } from './xml-plist.js';

/** Where a configuration profile for the payload type com.relaypacs.desktop lands (computer scope). */
export const MANAGED_PREFERENCES_PATH = '/Library/Managed Preferences/com.relaypacs.desktop.plist';
export const LINUX_POLICY_PATH = '/etc/relaypacs/policy.json';

/** Reads a whole file; resolves null when it does not exist, rejects for anything else (permissions). */
export type FileReader = (path: string) => Promise<Uint8Array | null>;

export async function loadJsonPolicyFile(path: string, readFile: FileReader, kind: Extract<PolicySourceKind, 'linux-policy-file' | 'policy-file'> = 'policy-file', pathStyle: PathStyle = 'any'): Promise<PolicySourceResult> {
  let bytes: Uint8Array | null;
  try {
    bytes = await readFile(path);
  } catch (error) {
    return failed(kind, path, `cannot be read: ${(error as Error).message}`);
  }
  if (bytes === null) {
    // A path named explicitly (RELAYPACS_POLICY_FILE, --policy-file) that is missing is a mistake to report;
    // the machine path missing just means no policy.
    return kind === 'policy-file' ? failed(kind, path, 'does not exist (named by RELAYPACS_POLICY_FILE or --policy-file)') : absent(kind, path);
  }
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(bytes).toString('utf8').replace(/^\uFEFF/, ''));
  } catch (error) {
    return failed(kind, path, `is not valid JSON: ${(error as Error).message}`);
  }
  return fromDocument(kind, path, document, pathStyle);
}

export interface ManagedPreferencesOptions {
  readFile: FileReader;
  /** Runs plutil for binary plists; on macOS that is execFileRunner. */
  run: CommandRunner;
  path?: string;
}

export async function loadManagedPreferences(options: ManagedPreferencesOptions): Promise<PolicySourceResult> {
  const path = options.path ?? MANAGED_PREFERENCES_PATH;
  const kind = 'macos-managed-preferences';
  let bytes: Uint8Array | null;
  try {
    bytes = await options.readFile(path);
  } catch (error) {
    return failed(kind, path, `cannot be read: ${(error as Error).message}`);
  }
  if (bytes === null) return absent(kind, path);
  let xml: string;
  if (isBinaryPlist(bytes)) {
    // cfprefsd writes managed preferences as binary plists; plutil (macOS only) prints them as XML.
    try {
      const result = await options.run('/usr/bin/plutil', ['-convert', 'xml1', '-o', '-', path]);
      if (result.code !== 0) return failed(kind, path, `is a binary plist and plutil could not convert it: ${(result.stderr || result.stdout).trim().slice(0, 300)}`);
      xml = result.stdout;
    } catch (error) {
      return failed(kind, path, `is a binary plist and plutil could not be run: ${(error as Error).message}`);
    }
  } else {
    xml = Buffer.from(bytes).toString('utf8');
  }
  let document: unknown;
  try {
    document = parseXmlPlist(xml);
  } catch (error) {
    if (error instanceof PlistParseError) return failed(kind, path, `is not a valid property list: ${error.message}`);
    throw error;
  }
  // Profiles add bookkeeping keys of their own to the managed domain; they are not RelayPACS settings.
  if (typeof document === 'object' && document !== null && !Array.isArray(document)) {
    document = Object.fromEntries(Object.entries(document).filter(([key]) => !PROFILE_KEYS.has(key)));
  }
  return fromDocument(kind, path, document, 'posix');
}

const PROFILE_KEYS = new Set(['PayloadContent', 'PayloadDisplayName', 'PayloadIdentifier', 'PayloadType', 'PayloadUUID', 'PayloadVersion', 'PayloadEnabled']);

function fromDocument(kind: PolicySourceKind, path: string, document: unknown, pathStyle: PathStyle): PolicySourceResult {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    return failed(kind, path, 'must hold one object (a dictionary) of policy keys');
  }
  const validation = validatePolicyDocument(document, { source: path, pathStyle });
  return { kind, location: path, status: 'applied', values: validation.values, failedKeys: validation.failedKeys, problems: validation.problems };
}

function absent(kind: PolicySourceKind, location: string): PolicySourceResult {
  return { kind, location, status: 'absent', values: {}, failedKeys: [], problems: [] };
}

function failed(kind: PolicySourceKind, location: string, message: string): PolicySourceResult {
  return { kind, location, status: 'failed', values: {}, failedKeys: [], problems: [{ source: location, severity: 'error', message: `${location} ${message}` }] };
}
