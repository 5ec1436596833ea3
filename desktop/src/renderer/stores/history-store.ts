import { create } from 'zustand';
import type { HistoryFilter, HistoryItem } from '../../common/ipc-contract';
import { invoke, toApiError, type ApiError } from '../lib/api-client';

export interface HistoryState {
  filter: HistoryFilter;
  items: HistoryItem[];
  loaded: boolean;
  loading: boolean;
  error: ApiError | null;
  load(filter?: HistoryFilter): Promise<void>;
  /** The CSV of the current filter, or null when the export failed (error set). */
  exportCsv(): Promise<{ csv: string; rows: number } | null>;
}

export const historyInitialState = {
  filter: { state: 'all' } as HistoryFilter,
  items: [],
  loaded: false,
  loading: false,
  error: null,
} satisfies Partial<HistoryState>;

/** Drops empty fields so the core sees only the filters that are set. */
export function cleanFilter(filter: HistoryFilter): HistoryFilter {
  const clean: HistoryFilter = {};
  if (filter.text?.trim()) clean.text = filter.text.trim();
  if (filter.state) clean.state = filter.state;
  if (filter.serviceLevel) clean.serviceLevel = filter.serviceLevel;
  if (filter.report) clean.report = filter.report;
  if (filter.from) clean.from = filter.from;
  if (filter.to) clean.to = filter.to;
  return clean;
}

let latestRequest = 0;

/** Delivered, confirmed and failed studies, filtered by the core. */
export const useHistoryStore = create<HistoryState>()((set, get) => ({
  ...historyInitialState,

  async load(filter) {
    const applied = cleanFilter(filter ?? get().filter);
    const request = ++latestRequest;
    set({ filter: applied, loading: true, error: null });
    try {
      const items = await invoke('history:list', applied);
      // A slower answer to an older filter must not replace a newer one.
      if (request === latestRequest) set({ items, loaded: true, loading: false });
    } catch (error) {
      if (request === latestRequest) set({ loaded: true, loading: false, error: toApiError(error) });
    }
  },

  async exportCsv() {
    set({ error: null });
    try {
      return await invoke('history:export', get().filter);
    } catch (error) {
      set({ error: toApiError(error) });
      return null;
    }
  },
}));
