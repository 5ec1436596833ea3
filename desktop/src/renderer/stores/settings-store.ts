import { create } from 'zustand';
import type { Settings, SettingsView } from '../../common/ipc-contract';
import { invoke, toApiError, type ApiError } from '../lib/api-client';

export interface SettingsState {
  view: SettingsView | null;
  loaded: boolean;
  saving: boolean;
  error: ApiError | null;
  message: string | null;
  load(): Promise<void>;
  save(changes: Partial<Settings>): Promise<boolean>;
}

export const settingsInitialState = { view: null, loaded: false, saving: false, error: null, message: null } satisfies Partial<SettingsState>;

/** Settings and which of them IT policy has locked. */
export const useSettingsStore = create<SettingsState>()((set, get) => ({
  ...settingsInitialState,

  async load() {
    try {
      set({ view: await invoke('settings:get'), loaded: true, error: null });
    } catch (error) {
      set({ loaded: true, error: toApiError(error) });
    }
  },

  async save(changes) {
    const locked = get().view?.locked ?? {};
    // Locked settings are refused by main; never send them.
    const allowed = Object.fromEntries(Object.entries(changes).filter(([key]) => !locked[key as keyof Settings])) as Partial<Settings>;
    if (Object.keys(allowed).length === 0) {
      set({ message: 'Nothing to save.', error: null });
      return true;
    }
    set({ saving: true, error: null, message: null });
    try {
      set({ view: await invoke('settings:set', allowed), saving: false, message: 'Settings saved.' });
      return true;
    } catch (error) {
      set({ saving: false, error: toApiError(error) });
      return false;
    }
  },
}));
