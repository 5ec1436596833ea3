import { create } from 'zustand';
import type { StatusSummary } from '../../common/ipc-contract';
import { invoke, toApiError, type ApiError } from '../lib/api-client';

export interface StatusState {
  summary: StatusSummary | null;
  error: ApiError | null;
  load(): Promise<void>;
  receive(summary: StatusSummary): void;
}

export const statusInitialState = { summary: null, error: null } satisfies Partial<StatusState>;

/** Online/offline and activity for the header; live through status:changed. */
export const useStatusStore = create<StatusState>()((set) => ({
  ...statusInitialState,
  async load() {
    try {
      set({ summary: await invoke('status:get'), error: null });
    } catch (error) {
      set({ error: toApiError(error) });
    }
  },
  receive(summary) {
    set({ summary, error: null });
  },
}));
