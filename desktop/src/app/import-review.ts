import type { AttachPhotosRequest, ImportProblem, ImportProgressEvent, ImportReview, ReviewPhoto, ReviewStudy } from '../common/ipc-contract.js';
import type { CatalogDatabase } from '../core/catalog/catalog-database.js';
import type { CatalogReader } from '../core/catalog/catalog-reader.js';
import { ImportRunsRepository } from '../core/catalog/import-runs-repository.js';
import type { ImportService } from '../core/import/import-service.js';
import type { CandidateFile, ImportSource, SourceItem } from '../core/import/import-source.js';
import { sourceForPath } from '../core/import/source-for-path.js';
import { formatDicomDate, formatPersonName } from '../common/dicom-display.js';
import type { PhotoAttachments } from './photo-attachments.js';

export interface ImportReviewerOptions {
  db: CatalogDatabase;
  catalog: CatalogReader;
  imports: ImportService;
  tempDir: string;
  /** Where the JPEG and PNG photos an import finds wait to be attached to a study. */
  photos: PhotoAttachments;
  /** Progress at most this often (a folder of 10,000 files must not flood the renderer). Default 100 ms. */
  progressIntervalMs?: number;
}

/**
 * Imports what the user dropped or chose (folders, files, ZIPs, DICOMDIR media; the same sources as
 * `relaypacs upload`) as one import run, then describes it for the review before sending: each study
 * found with its patient, date, modalities, counts and size, every file that could not be used,
 * with the reason, and the photos found, which wait to be attached to a study (attachPhotos).
 */
export class ImportReviewer {
  private readonly runs: ImportRunsRepository;

  constructor(private readonly options: ImportReviewerOptions) {
    this.runs = new ImportRunsRepository(options.db);
  }

  async importPaths(paths: readonly string[], onProgress: (progress: ImportProgressEvent) => void): Promise<ImportReview> {
    const tempDir = this.options.tempDir;
    const waiting = new Map<string, ReviewPhoto>();
    const photo = async (file: CandidateFile): Promise<SourceItem | undefined> => {
      const found = await this.options.photos.found(file);
      if (found.kind === 'import') return found.item;
      waiting.set(found.photo.path, found.photo);
      return undefined;
    };
    async function* everything(): ImportSource {
      for (const path of paths) yield* sourceForPath(path, { tempDir, photo });
    }
    const label = paths.length === 1 ? paths[0]! : `${paths[0]} and ${paths.length - 1} more`;
    const interval = this.options.progressIntervalMs ?? 100;
    let last = 0;
    const run = await this.options.imports.run(label, everything(), (progress) => {
      const now = performance.now();
      if (now - last < interval) return;
      last = now;
      onProgress({
        found: progress.found, imported: progress.imported, duplicates: progress.duplicates, skipped: progress.skipped,
        ...(progress.current !== undefined ? { current: progress.current } : {}),
      });
    });
    onProgress({ found: run.counts.found, imported: run.counts.imported, duplicates: run.counts.duplicates, skipped: run.counts.skipped });
    return this.review(run.runId, run.studyInstanceUids, [...waiting.values()]);
  }

  /**
   * Attaches photos of a review to a study (or a new one) and answers the review of that: the
   * study with its new photo series, and any photo that could not be converted as a problem.
   */
  async attachPhotos(request: AttachPhotosRequest): Promise<ImportReview> {
    const run = await this.options.photos.attach(request);
    return this.review(run.runId, run.studyInstanceUids);
  }

  /** The review of one import run, with the photos it found waiting to be attached. */
  review(runId: number, studyInstanceUids: readonly string[], photos: readonly ReviewPhoto[] = []): ImportReview {
    const record = this.runs.find(runId);
    const conflicts = this.options.db.prepare(`SELECT st.study_instance_uid AS studyInstanceUid, c.display_name AS displayName
        FROM instance_conflicts c JOIN instances i ON i.id = c.existing_instance_id JOIN series se ON se.id = i.series_row_id JOIN studies st ON st.id = se.study_row_id
        WHERE c.import_run_id = ? ORDER BY c.id`).all(runId) as { studyInstanceUid: string; displayName: string }[];
    const studies: ReviewStudy[] = [];
    for (const uid of studyInstanceUids) {
      const study = this.options.catalog.study(uid);
      if (!study) continue;
      const instances = study.series.flatMap((s) => s.instances);
      studies.push({
        studyInstanceUid: study.studyInstanceUid,
        patientName: formatPersonName(study.patient.name),
        patientId: study.patient.patientId,
        studyDate: formatDicomDate(study.studyDate),
        description: study.description,
        modalities: [...new Set(study.series.map((s) => s.modality).filter(Boolean))],
        seriesCount: study.series.length,
        instanceCount: instances.length,
        totalBytes: instances.reduce((sum, i) => sum + i.size, 0),
        conflicts: conflicts.filter((c) => c.studyInstanceUid === uid).length,
        fileHeaderAdded: instances.filter((i) => i.fileMetaAdded).length,
      });
    }
    // Newest study first, as a radiographer looks for the patient just scanned.
    studies.sort((a, b) => b.studyDate.localeCompare(a.studyDate));
    const problems: ImportProblem[] = [
      ...this.runs.skips(runId).map((skip) => ({ displayName: skip.displayName, code: skip.code, reason: skip.reason })),
      ...conflicts.map((c) => ({
        displayName: c.displayName, code: 'DUPLICATE_CONFLICT' as const,
        reason: 'an image with the same identifier but different content is already in the catalog; the one already there is the one sent',
      })),
    ];
    return {
      runId,
      counts: {
        found: record?.found ?? 0, imported: record?.imported ?? 0, duplicates: record?.duplicates ?? 0,
        conflicts: record?.conflicts ?? 0, skipped: record?.skipped ?? 0,
      },
      studies,
      problems,
      photos: [...photos].sort((a, b) => a.displayName.localeCompare(b.displayName)),
    };
  }
}
