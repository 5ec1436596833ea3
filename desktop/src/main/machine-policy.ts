/**
 * The IT policy of this machine, read once at start (core/policy: registry, managed preferences,
 * /etc/relaypacs/policy.json, then a --policy-file or RELAYPACS_POLICY_FILE JSON file) and handed to
 * the shell as its PolicySource. A damaged source never unlocks anything (load-policy.ts); its
 * problems go to the log, which names sources and keys, never values that could carry PHI.
 */
import { execFileRunner } from '../core/policy/command-runner.js';
import { loadPolicy } from '../core/policy/load-policy.js';
import { settingsPolicyFrom } from '../core/policy/policy-provider.js';
import type { PolicySource, ShellPolicy } from './policy.js';

export function machinePolicySource(log: (message: string) => void = (message) => console.warn(message)): PolicySource {
  return {
    async load(): Promise<ShellPolicy> {
      const policy = await loadPolicy({ platform: process.platform, env: process.env, argv: process.argv, run: execFileRunner });
      for (const problem of policy.problems) log(`IT policy: ${problem.message}`);
      return { ...settingsPolicyFrom(policy), externalOrigins: [] };
    },
  };
}
