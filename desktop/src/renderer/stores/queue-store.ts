import { create } from 'zustand';
import type { JobAction, QueueItem } from '../../common/ipc-contract';
import { invoke, toApiError, type ApiError } from '../lib/api-client';

export interface QueueState {
  items: QueueItem[];
  loaded: boolean;
  error: ApiError | null;
  /** Actions on their way to main, by `${action}:${jobId}`, so their buttons wait. */
  pending: string[];
  /** What the last action did, in words (announced politely). */
  message: string | null;
  load(): Promise<void>;
  receive(items: QueueItem[]): void;
  act(action: JobAction, jobId: number | 'all'): Promise<void>;
}

export const queueInitialState = { items: [], loaded: false, error: null, pending: [], message: null } satisfies Partial<QueueState>;

const DONE_WORDS: Record<JobAction, string> = { pause: 'Paused', resume: 'Resumed', cancel: 'Cancelled', retry: 'Retrying' };

/** The upload queue; live through queue:changed. */
export const useQueueStore = create<QueueState>()((set, get) => ({
  ...queueInitialState,

  async load() {
    try {
      set({ items: await invoke('queue:list'), loaded: true, error: null });
    } catch (error) {
      set({ loaded: true, error: toApiError(error) });
    }
  },

  receive(items) {
    set({ items, loaded: true });
  },

  async act(action, jobId) {
    const key = `${action}:${jobId}`;
    set({ pending: [...get().pending, key], error: null, message: null });
    try {
      const { changed } = await invoke('queue:act', { action, jobId });
      set({ message: changed === 0 ? 'Nothing to change.' : `${DONE_WORDS[action]} ${changed === 1 ? '1 study' : `${changed} studies`}.` });
      // queue:changed normally follows; reading the list too keeps the screen right if it does not.
      await get().load();
    } catch (error) {
      set({ error: toApiError(error) });
    } finally {
      set({ pending: get().pending.filter((p) => p !== key) });
    }
  },
}));
