import { historyInitialState, useHistoryStore } from './history-store';
import { importInitialState, useImportStore } from './import-store';
import { queueInitialState, useQueueStore } from './queue-store';
import { sessionInitialState, useSessionStore } from './session-store';
import { settingsInitialState, useSettingsStore } from './settings-store';
import { statusInitialState, useStatusStore } from './status-store';
import { watchInitialState, useWatchStore } from './watch-store';

/**
 * Forgets what was shown of patients: the import review, the queue and the history. Used on
 * sign-out and when the session ends, so the next person at the workstation does not see them.
 */
export function forgetPatientData(): void {
  useImportStore.setState({ ...importInitialState });
  useQueueStore.setState({ ...queueInitialState });
  useHistoryStore.setState({ ...historyInitialState });
}

/** Every store back to its first state (tests, and a fresh start). */
export function resetStores(): void {
  forgetPatientData();
  useSessionStore.setState({ ...sessionInitialState });
  useSettingsStore.setState({ ...settingsInitialState });
  useStatusStore.setState({ ...statusInitialState });
  useWatchStore.setState({ ...watchInitialState });
}
