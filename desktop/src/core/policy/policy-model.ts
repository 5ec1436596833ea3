/**
 * IT policy: what a machine-level source (Windows registry, macOS managed preferences,
 * /etc/relaypacs/policy.json) or a JSON policy file may set and lock, in one shape whatever the source.
 * Every value a policy sets is locked: the UI shows it and refuses changes (LockedSettings).
 *
 * The enrolment secret of a device account is deliberately not a policy value: registry policies
 * (HKLM\Software\Policies is readable by every local user), configuration profiles and JSON files are
 * copied, backed up and shown in management consoles, so a password there is a password published.
 * Policy names the device account and requires enrolment; the secret is typed once at enrolment and
 * the resulting session lives in the OS keychain (docs/deploy/it-guide.md).
 */
import type { LockedSettings, ServiceLevel, Settings } from '../../common/ipc-contract.js';

export type UpdateChannel = Settings['updates']['channel'];

/** A watched folder fixed by policy, with the defaults every study found in it is sent with. */
export interface PolicyWatchedFolder {
  path: string;
  serviceLevel: ServiceLevel;
  routingTag?: string;
  afterDelivery: 'keep' | 'move' | 'delete';
  doneFolder?: string;
  /** Unset: the watcher's own default (polling for UNC paths). */
  usePolling?: boolean;
}

/** Defaults that fill in any policy folder that does not say otherwise. */
export type PolicyWatchedFolderDefaults = Partial<Pick<PolicyWatchedFolder, 'serviceLevel' | 'routingTag' | 'afterDelivery' | 'usePolling'>>;

export interface DeviceAccountPolicy {
  /** The relay account this workstation signs in as; null when policy only requires enrolment. */
  username: string | null;
  /** The app does not send anything until the workstation is enrolled (signed in as a device). */
  requireEnrolment: boolean;
}

/** Validated policy values. A key that is absent is not set by policy. */
export interface PolicyValues {
  relayUrl?: string;
  deviceAccount?: DeviceAccountPolicy;
  watchedFolders?: PolicyWatchedFolder[];
  /** Bytes per second; 0 = no cap. */
  maxBytesPerSecond?: number;
  /** "HH:MM-HH:MM" windows for routine studies; empty = any time. */
  routineWindows?: string[];
  updates?: { enabled?: boolean; channel?: UpdateChannel };
  startAtLogin?: boolean;
  /**
   * false: the headless agent may not keep credentials in a file (--credential-store file); it uses
   * the OS keychain or systemd credentials only. Unset or true: the file store may be chosen.
   */
  allowFileCredentialStore?: boolean;
}

/** The keys a policy source can claim, in the order documentation lists them. */
export const POLICY_KEYS = ['relayUrl', 'deviceAccount', 'watchedFolders', 'maxBytesPerSecond', 'routineWindows', 'updates', 'startAtLogin', 'allowFileCredentialStore'] as const;
export type PolicyKey = (typeof POLICY_KEYS)[number];

export type PolicySourceKind = 'windows-registry' | 'macos-managed-preferences' | 'linux-policy-file' | 'policy-file';

export interface PolicyProblem {
  /** Where: "HKLM\Software\Policies\RelayPACS", "/etc/relaypacs/policy.json", ... */
  source: string;
  /** The key as written in that source ("RelayUrl", "watchedFolders[1].path"); absent for a whole-source problem. */
  key?: string;
  /**
   * 'error': the value was not applied and the setting stays locked at its current value (a broken
   * policy never unlocks what it meant to fix). 'warning': ignored, nothing locked (e.g. an unknown key).
   */
  severity: 'error' | 'warning';
  message: string;
}

/** What one source gave. */
export interface PolicySourceResult {
  kind: PolicySourceKind;
  location: string;
  /** 'absent': no policy there (normal). 'failed': it exists but could not be read or parsed as a whole. */
  status: 'applied' | 'absent' | 'failed';
  values: PolicyValues;
  /** Keys the source tried to set but whose value was invalid: locked without a value. */
  failedKeys: PolicyKey[];
  problems: PolicyProblem[];
}

/** All sources merged: what the app enforces. */
export interface EffectivePolicy {
  values: PolicyValues;
  /** Keys claimed by a source whose value is unusable: locked at the user's current value. */
  failedKeys: PolicyKey[];
  /** Which source each set or failed key came from. */
  keySources: Partial<Record<PolicyKey, string>>;
  sources: PolicySourceResult[];
  problems: PolicyProblem[];
}

export const NO_POLICY: EffectivePolicy = Object.freeze({ values: {}, failedKeys: [], keySources: {}, sources: [], problems: [] });

/** The settings keys (and 'watchedFolders') each policy key locks. */
export const LOCKS: Record<PolicyKey, readonly (keyof LockedSettings)[]> = {
  relayUrl: ['relayUrl'],
  deviceAccount: [],
  watchedFolders: ['watchedFolders'],
  maxBytesPerSecond: ['maxBytesPerSecond'],
  routineWindows: ['routineWindows'],
  updates: ['updates'],
  startAtLogin: ['startAtLogin'],
  allowFileCredentialStore: [],
};
