import { create } from 'zustand';
import type { ImportProgressEvent, ImportReview, ServiceLevel, SendRequest } from '../../common/ipc-contract';
import { invoke, toApiError, type ApiError } from '../lib/api-client';

export type ImportPhase = 'idle' | 'importing' | 'review' | 'sending' | 'sent';

/** What the user decided for one study of the review. */
export interface StudyChoice {
  selected: boolean;
  serviceLevel: ServiceLevel;
  clinicalHistory: string;
}

export interface ImportState {
  phase: ImportPhase;
  progress: ImportProgressEvent | null;
  review: ImportReview | null;
  choices: Record<string, StudyChoice>;
  sentJobIds: number[];
  error: ApiError | null;
  /** Something worth saying that is not an error (e.g. dropped items without a path). */
  notice: string | null;
  choose(kind: 'folder' | 'files'): Promise<void>;
  importPaths(paths: string[]): Promise<void>;
  receiveProgress(progress: ImportProgressEvent): void;
  setChoice(studyInstanceUid: string, change: Partial<StudyChoice>): void;
  send(): Promise<void>;
  setNotice(notice: string | null): void;
  reset(): void;
}

export const importInitialState = {
  phase: 'idle' as ImportPhase,
  progress: null,
  review: null,
  choices: {},
  sentJobIds: [],
  error: null,
  notice: null,
} satisfies Partial<ImportState>;

const defaultChoice = (): StudyChoice => ({ selected: true, serviceLevel: 'ROUTINE', clinicalHistory: '' });

/**
 * A second import while reviewing adds to the review instead of hiding what was found before: the
 * same study found again takes the newer counts and keeps the user's choices.
 */
export function mergeReviews(before: ImportReview, after: ImportReview): ImportReview {
  const studies = new Map(before.studies.map((s) => [s.studyInstanceUid, s]));
  for (const study of after.studies) studies.set(study.studyInstanceUid, study);
  const c = (k: keyof ImportReview['counts']) => before.counts[k] + after.counts[k];
  return {
    runId: after.runId,
    counts: { found: c('found'), imported: c('imported'), duplicates: c('duplicates'), conflicts: c('conflicts'), skipped: c('skipped') },
    studies: [...studies.values()],
    problems: [...before.problems, ...after.problems],
  };
}

/** Import → review → send. Progress is live through import:progress. */
export const useImportStore = create<ImportState>()((set, get) => ({
  ...importInitialState,

  async choose(kind) {
    set({ error: null, notice: null });
    let paths: string[];
    try {
      paths = await invoke('import:choose', { kind });
    } catch (error) {
      set({ error: toApiError(error) });
      return;
    }
    if (paths.length > 0) await get().importPaths(paths);
  },

  async importPaths(paths) {
    if (paths.length === 0) return;
    const previous = get().phase === 'review' ? get().review : null;
    set({ phase: 'importing', progress: { found: 0, imported: 0, duplicates: 0, skipped: 0 }, error: null, sentJobIds: [] });
    try {
      const found = await invoke('import:paths', { paths });
      const review = previous ? mergeReviews(previous, found) : found;
      const choices = previous ? { ...get().choices } : {};
      for (const study of review.studies) choices[study.studyInstanceUid] ??= defaultChoice();
      set({ phase: 'review', review, choices, progress: null });
    } catch (error) {
      set({ phase: previous ? 'review' : 'idle', progress: null, error: toApiError(error) });
    }
  },

  receiveProgress(progress) {
    if (get().phase === 'importing') set({ progress });
  },

  setChoice(studyInstanceUid, change) {
    const choices = get().choices;
    set({ choices: { ...choices, [studyInstanceUid]: { ...(choices[studyInstanceUid] ?? defaultChoice()), ...change } } });
  },

  async send() {
    const { review, choices } = get();
    if (!review) return;
    const studies: SendRequest['studies'] = [];
    for (const study of review.studies) {
      const choice = choices[study.studyInstanceUid] ?? defaultChoice();
      if (!choice.selected) continue;
      const history = choice.clinicalHistory.trim();
      studies.push({ studyInstanceUid: study.studyInstanceUid, serviceLevel: choice.serviceLevel, ...(history ? { clinicalHistory: history } : {}) });
    }
    if (studies.length === 0) {
      set({ notice: 'Select at least one study to send.' });
      return;
    }
    set({ phase: 'sending', error: null, notice: null });
    try {
      const { jobIds } = await invoke('import:send', { studies });
      set({ phase: 'sent', sentJobIds: jobIds });
    } catch (error) {
      set({ phase: 'review', error: toApiError(error) });
    }
  },

  setNotice(notice) {
    set({ notice });
  },

  reset() {
    set({ ...importInitialState });
  },
}));
