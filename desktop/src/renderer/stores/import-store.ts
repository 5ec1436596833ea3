import { create } from 'zustand';
import type { AttachPhotosRequest, ImportProgressEvent, ImportReview, ServiceLevel, SendRequest } from '../../common/ipc-contract';
import { invoke, toApiError, type ApiError } from '../lib/api-client';
import { plural, studyLabel } from '../lib/format';

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
  /** Photos are being made into images of a study. */
  attaching: boolean;
  /** Why the last attachment of photos was refused, shown in the photos panel. */
  attachError: ApiError | null;
  choose(kind: 'folder' | 'files'): Promise<void>;
  importPaths(paths: string[]): Promise<void>;
  receiveProgress(progress: ImportProgressEvent): void;
  setChoice(studyInstanceUid: string, change: Partial<StudyChoice>): void;
  send(): Promise<void>;
  /**
   * Attaches photos of the review to a study of it or a new one; the review then shows the study
   * with its photos, and the photos are no longer waiting. Resolves with the study they joined,
   * or null when refused (attachError says why).
   */
  attachPhotos(photos: string[], target: AttachPhotosRequest['target']): Promise<string | null>;
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
  attaching: false,
  attachError: null,
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
    // The same photo found again is listed once.
    photos: [...new Map([...before.photos, ...after.photos].map((photo) => [photo.path, photo])).values()],
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

  async attachPhotos(photos, target) {
    if (!get().review || get().attaching) return null;
    set({ attaching: true, attachError: null, error: null, notice: null });
    let attached: ImportReview;
    try {
      attached = await invoke('import:attach-photos', { photos, target });
    } catch (error) {
      set({ attaching: false, attachError: toApiError(error) });
      return null;
    }
    const current = get().review;
    if (!current) {
      set({ attaching: false });
      return null;
    }
    // The answer is the attachment's own review: merged in, and the photos sent are waiting no more.
    const sent = new Set(photos);
    const merged = mergeReviews(current, attached);
    const review = { ...merged, photos: merged.photos.filter((photo) => !sent.has(photo.path)) };
    const choices = { ...get().choices };
    for (const study of attached.studies) choices[study.studyInstanceUid] ??= defaultChoice();
    const study = attached.studies[0];
    const made = attached.counts.imported + attached.counts.duplicates;
    const failed = attached.problems.length;
    const notice = study && made > 0
      ? `${plural(made, 'photo')} attached to ${studyLabel(study)}.${failed > 0 ? ` ${plural(failed, 'photo')} could not be converted: see the problems below.` : ''} Send the study to deliver ${made === 1 ? 'it' : 'them'}.`
      : `No photo could be converted: see the problems below.`;
    set({ attaching: false, review, choices, notice });
    return study?.studyInstanceUid ?? null;
  },

  setNotice(notice) {
    set({ notice });
  },

  reset() {
    set({ ...importInitialState });
  },
}));
