/**
 * Whether this workstation looks for updates, on which channel, and why: a pure function the Electron
 * main process calls before electron-updater's checkForUpdates(), and again with the release's
 * `stagingPercentage` (from latest.yml) as electron-updater's isUserWithinRollout hook.
 *
 * Order of the rules, first match decides:
 *   1. not packaged (development)                  → no check
 *   2. MSI install (IT deploys new MSIs)           → no check, whatever policy or the user says
 *      .deb install (the package manager updates)  → no check
 *      unknown install (copied folder)             → no check
 *   3. policy could not be read for updates        → no check (a broken policy never turns updates on)
 *   4. policy disables updates                     → no check
 *   5. policy enables updates                      → check, even if the user turned them off
 *      the user turned updates off                 → no check
 *   6. staged rollout: the release is offered to stagingPercentage % of machines, chosen by a stable
 *      hash of the machine id, so raising 10 → 50 keeps the first 10 % and adds more, and every user
 *      of a shared workstation gets the same answer.
 * The channel is policy's when it sets one, else the user's.
 */
import { createHash } from 'node:crypto';
import type { LockedSettings, Settings } from '../../common/ipc-contract.js';
import type { UpdateChannel } from '../policy/policy-model.js';
import type { InstallKind } from './install-kind.js';

export interface UpdateDecisionInput {
  installKind: InstallKind;
  policy: {
    enabled?: boolean;
    channel?: UpdateChannel;
    /** The updates policy exists but could not be read (EffectivePolicy.failedKeys has 'updates'). */
    unreadable?: boolean;
  };
  user: { enabled: boolean; channel: UpdateChannel };
  /** Stable per-machine id (readMachineId); null when none could be read. */
  machineId?: string | null;
  /** From the release's latest.yml; undefined/null = offered to everyone. */
  stagingPercentage?: number | null;
}

export type UpdateReason =
  | 'development' | 'msi-managed-by-it' | 'package-manager' | 'install-kind-unknown'
  | 'policy-unreadable' | 'policy-disabled' | 'user-disabled'
  | 'outside-rollout' | 'enabled-by-policy' | 'enabled';

export interface UpdateDecision {
  check: boolean;
  channel: UpdateChannel;
  /** The electron-updater channel name: its stable channel is called "latest" (latest.yml). */
  feedChannel: 'latest' | 'beta';
  /** Let electron-updater offer prereleases: only on beta. */
  allowPrerelease: boolean;
  reason: UpdateReason;
  /** One sentence for the About box and the log. */
  message: string;
}

export function decideUpdate(input: UpdateDecisionInput): UpdateDecision {
  const channel = input.policy.channel ?? input.user.channel;
  const decide = (check: boolean, reason: UpdateReason, message: string): UpdateDecision => ({
    check, channel, feedChannel: channel === 'beta' ? 'beta' : 'latest', allowPrerelease: channel === 'beta', reason, message,
  });
  switch (input.installKind) {
    case 'development': return decide(false, 'development', 'Updates are not checked when RelayPACS runs from source.');
    case 'msi': return decide(false, 'msi-managed-by-it', 'RelayPACS was installed with the MSI package: your IT department installs new versions.');
    case 'deb': return decide(false, 'package-manager', 'RelayPACS was installed as a system package: new versions come through the package manager (apt).');
    case 'unknown': return decide(false, 'install-kind-unknown', 'RelayPACS was not installed by its installer, so it does not update itself.');
    default: break;
  }
  if (input.policy.unreadable) return decide(false, 'policy-unreadable', 'The IT policy for updates could not be read, so updates stay off until it is fixed.');
  if (input.policy.enabled === false) return decide(false, 'policy-disabled', 'Updates are turned off by your IT department.');
  const byPolicy = input.policy.enabled === true;
  if (!byPolicy && !input.user.enabled) return decide(false, 'user-disabled', 'Updates are turned off in Settings.');
  const percentage = input.stagingPercentage;
  if (percentage !== undefined && percentage !== null && !isWithinRollout(input.machineId ?? null, percentage)) {
    return decide(false, 'outside-rollout', `This release is being rolled out to ${clampPercentage(percentage)}% of workstations; this one gets it later.`);
  }
  return byPolicy
    ? decide(true, 'enabled-by-policy', `Updates are turned on by your IT department (${channel} channel).`)
    : decide(true, 'enabled', `Updates are checked on the ${channel} channel.`);
}

/**
 * The policy part of the input, from the settings policy the shell hands the desktop API (locks and
 * fixed values, policy-provider.ts). It reads updates exactly as the settings screen shows them: a
 * policy that sets one field fixes the other at its default, and `updates` locked without a value is a
 * policy that could not be read. So what the user sees locked is what the updater does.
 */
export function updatePolicyFromSettings(policy: { locked: LockedSettings; values?: Partial<Settings> }): UpdateDecisionInput['policy'] {
  if (!policy.locked.updates) return {};
  const fixed = policy.values?.updates;
  return fixed ? { enabled: fixed.enabled, channel: fixed.channel } : { unreadable: true };
}

/** The machine's place in every rollout, 0 (first) to just under 100 (last). */
export function rolloutBucket(machineId: string): number {
  // Salted so the bucket says nothing about the raw id, and RelayPACS's order is not another product's.
  const digest = createHash('sha256').update(`relaypacs-rollout:${machineId}`).digest();
  return (digest.readUInt32BE(0) / 0x1_0000_0000) * 100;
}

/** 100 (or more) = everyone; 0 = nobody; without a machine id, only a full rollout. */
export function isWithinRollout(machineId: string | null, stagingPercentage: number): boolean {
  const percentage = clampPercentage(stagingPercentage);
  if (percentage >= 100) return true;
  if (percentage <= 0 || machineId === null || machineId === '') return false;
  return rolloutBucket(machineId) < percentage;
}

function clampPercentage(value: number): number {
  return Number.isFinite(value) ? Math.min(100, Math.max(0, value)) : 100;
}
