/**
 * Seam for IT policy (managed settings: Windows registry, macOS configuration profile, a JSON file
 * under /etc). main.ts passes `machinePolicySource()` (machine-policy.ts, over core/policy); without
 * a source main runs with `NO_SHELL_POLICY`, i.e. nothing is locked, as on an unmanaged workstation.
 *
 * The policy is read once at start. Its settings part is the core's `DesktopPolicy` (which settings
 * are locked and to what), handed to the desktop API, whose settings view then already carries the
 * policy's values: main applies `startAtLogin` from that view and needs no rule of its own. The shell
 * adds what only it uses.
 */
import type { DesktopPolicy } from '../app/desktop-settings.js';

export interface ShellPolicy extends DesktopPolicy {
  /** Extra https origins links may open in the browser (besides the relay's), e.g. the site's intranet help. */
  externalOrigins?: string[];
}

export interface PolicySource {
  load(): Promise<ShellPolicy>;
}

export const NO_SHELL_POLICY: ShellPolicy = Object.freeze({ locked: {}, externalOrigins: [] });
