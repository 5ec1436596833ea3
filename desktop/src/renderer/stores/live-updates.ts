import { onApiError, subscribe } from '../lib/api-client';
import { useImportStore } from './import-store';
import { forgetPatientData } from './reset-stores';
import { useQueueStore } from './queue-store';
import { useSessionStore } from './session-store';
import { useStatusStore } from './status-store';
import { useWatchStore } from './watch-store';

/**
 * Wires main's pushes into the stores, and sends the user back to sign-in when any call says the
 * session has ended; leaving the session forgets the patient data shown. Returns the disconnect.
 */
export function connectLiveUpdates(): () => void {
  const disconnects = [
    subscribe('queue:changed', (items) => useQueueStore.getState().receive(items)),
    subscribe('import:progress', (progress) => useImportStore.getState().receiveProgress(progress)),
    subscribe('watch:changed', (folders) => useWatchStore.getState().receive(folders)),
    subscribe('status:changed', (summary) => useStatusStore.getState().receive(summary)),
    onApiError((error) => {
      if (error.code === 'SESSION_EXPIRED') useSessionStore.getState().expire(error);
    }),
    useSessionStore.subscribe((now, before) => {
      if (before.status === 'signed-in' && now.status !== 'signed-in') forgetPatientData();
    }),
  ];
  return () => {
    for (const disconnect of disconnects) disconnect();
  };
}
