/**
 * Seam for automatic updates. Not implemented yet: the updates issue supplies an `Updater` (signed
 * releases, the channel from settings); until then main is built with none, says so once in the
 * log, and the `updates` settings are stored but have no effect.
 */
import type { Settings } from '../common/ipc-contract.js';

export interface Updater {
  /** Called at start and whenever the updates settings change. */
  configure(preferences: Settings['updates']): void;
  dispose(): void;
}
