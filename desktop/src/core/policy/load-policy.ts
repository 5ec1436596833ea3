/**
 * Reads IT policy at start and merges the sources into one EffectivePolicy.
 *
 * Sources, strongest first:
 *   1. the machine's own policy store: Windows HKLM\Software\Policies\RelayPACS, macOS
 *      /Library/Managed Preferences/com.relaypacs.desktop.plist, Linux /etc/relaypacs/policy.json;
 *   2. a JSON policy file named by --policy-file or RELAYPACS_POLICY_FILE (any OS).
 * The machine store wins because only administrators can write it (HKLM, an MDM-installed profile,
 * root-owned /etc), while the file is named by a flag or an environment variable that any user can
 * set. The file is for places without a native store (a headless agent under a service account, a
 * thin-client image) and fills in only keys the machine store leaves unset.
 *
 * Merging is per key: the first source that sets a key, or tried to and failed, owns it. A source that
 * exists but cannot be read at all owns every key, so a damaged policy locks everything at its current
 * value instead of unlocking it; the problem is reported for the UI and the log. Nothing here throws.
 */
import { readFile as fsReadFile } from 'node:fs/promises';
import type { CommandRunner } from './command-runner.js';
import { LINUX_POLICY_PATH, loadJsonPolicyFile, loadManagedPreferences, MANAGED_PREFERENCES_PATH, type FileReader } from './file-policy.js';
import { POLICY_KEYS, type EffectivePolicy, type PolicyKey, type PolicySourceKind, type PolicySourceResult, type PolicyValues } from './policy-model.js';
import { loadRegistryPolicy, REGISTRY_POLICY_KEY } from './registry-policy.js';

export interface LoadPolicyOptions {
  platform: NodeJS.Platform;
  env: Readonly<Record<string, string | undefined>>;
  /** The command line; `--policy-file PATH` or `--policy-file=PATH` names a JSON policy file. */
  argv?: readonly string[];
  run: CommandRunner;
  readFile?: FileReader;
}

/** The real file reader: null for a missing file, a rejection for anything else. */
export const readFileOrNull: FileReader = async (path) => {
  try {
    return await fsReadFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw error;
  }
};

export async function loadPolicy(options: LoadPolicyOptions): Promise<EffectivePolicy> {
  const readFile = options.readFile ?? readFileOrNull;
  const sources: PolicySourceResult[] = [];
  if (options.platform === 'win32') sources.push(await safely('windows-registry', REGISTRY_POLICY_KEY, () => loadRegistryPolicy({ run: options.run, env: options.env })));
  else if (options.platform === 'darwin') sources.push(await safely('macos-managed-preferences', MANAGED_PREFERENCES_PATH, () => loadManagedPreferences({ readFile, run: options.run })));
  else sources.push(await safely('linux-policy-file', LINUX_POLICY_PATH, () => loadJsonPolicyFile(LINUX_POLICY_PATH, readFile, 'linux-policy-file', 'posix')));
  const file = policyFilePath(options.argv ?? [], options.env);
  if (file !== undefined) sources.push(await safely('policy-file', file, () => loadJsonPolicyFile(file, readFile, 'policy-file', options.platform === 'win32' ? 'win32' : 'posix')));
  return mergePolicySources(sources);
}

/** The loaders report their own failures; this catches the unforeseen, so start-up never dies of policy. */
async function safely(kind: PolicySourceKind, location: string, load: () => Promise<PolicySourceResult>): Promise<PolicySourceResult> {
  try {
    return await load();
  } catch (error) {
    return { kind, location, status: 'failed', values: {}, failedKeys: [], problems: [{ source: location, severity: 'error', message: `${location} could not be read: ${(error as Error).message}` }] };
  }
}

/** --policy-file wins over RELAYPACS_POLICY_FILE, as flags win over the environment everywhere else. */
export function policyFilePath(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--policy-file' && argv[i + 1] !== undefined) return argv[i + 1];
    if (arg.startsWith('--policy-file=')) return arg.slice('--policy-file='.length);
  }
  const fromEnv = env.RELAYPACS_POLICY_FILE;
  return fromEnv !== undefined && fromEnv.trim() !== '' ? fromEnv : undefined;
}

/** Sources strongest first. */
export function mergePolicySources(sources: readonly PolicySourceResult[]): EffectivePolicy {
  const values: PolicyValues = {};
  const failed = new Set<PolicyKey>();
  const keySources: Partial<Record<PolicyKey, string>> = {};
  for (const source of sources) {
    const claims: PolicyKey[] = source.status === 'failed'
      ? [...POLICY_KEYS]
      : POLICY_KEYS.filter((key) => source.values[key] !== undefined || source.failedKeys.includes(key));
    for (const key of claims) {
      if (keySources[key] !== undefined) continue;
      keySources[key] = source.location;
      if (source.values[key] !== undefined) (values as Record<PolicyKey, unknown>)[key] = source.values[key];
      if (source.status === 'failed' || source.failedKeys.includes(key)) failed.add(key);
    }
  }
  return {
    values,
    failedKeys: POLICY_KEYS.filter((key) => failed.has(key)),
    keySources,
    sources: [...sources],
    problems: sources.flatMap((source) => source.problems),
  };
}
