import { create } from 'zustand';
import type { WatchedFolder, WatchedFolderStatus } from '../../common/ipc-contract';
import { invoke, toApiError, type ApiError } from '../lib/api-client';

export interface WatchState {
  folders: WatchedFolderStatus[];
  loaded: boolean;
  busy: boolean;
  error: ApiError | null;
  message: string | null;
  load(): Promise<void>;
  receive(folders: WatchedFolderStatus[]): void;
  add(folder: WatchedFolder): Promise<boolean>;
  remove(path: string): Promise<void>;
  /** The system folder picker (the same dialog as Import's); null when closed or refused. */
  chooseFolder(): Promise<string | null>;
}

export const watchInitialState = { folders: [], loaded: false, busy: false, error: null, message: null } satisfies Partial<WatchState>;

/** Watched folders and their live status (watch:changed). */
export const useWatchStore = create<WatchState>()((set) => ({
  ...watchInitialState,

  async load() {
    try {
      set({ folders: await invoke('watch:list'), loaded: true, error: null });
    } catch (error) {
      set({ loaded: true, error: toApiError(error) });
    }
  },

  receive(folders) {
    set({ folders, loaded: true });
  },

  async add(folder) {
    set({ busy: true, error: null, message: null });
    try {
      set({ folders: await invoke('watch:add', folder), busy: false, message: `Now watching ${folder.path}.` });
      return true;
    } catch (error) {
      set({ busy: false, error: toApiError(error) });
      return false;
    }
  },

  async remove(path) {
    set({ busy: true, error: null, message: null });
    try {
      set({ folders: await invoke('watch:remove', { path }), busy: false, message: `Stopped watching ${path}.` });
    } catch (error) {
      set({ busy: false, error: toApiError(error) });
    }
  },

  async chooseFolder() {
    try {
      const [chosen] = await invoke('import:choose', { kind: 'folder' });
      return chosen ?? null;
    } catch (error) {
      set({ error: toApiError(error) });
      return null;
    }
  },
}));
