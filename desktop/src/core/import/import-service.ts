import type { CatalogDatabase } from '../catalog/catalog-database.js';
import { ImportRunsRepository, type ImportCounts } from '../catalog/import-runs-repository.js';
import { InstancesRepository, type IndexedFile } from '../catalog/instances-repository.js';
import { dirname, join } from 'node:path';
import { indexFile, type IndexResult, type WrapOptions } from './file-indexer.js';
import type { ImportSource, SkippedInput } from './import-source.js';

export interface ImportProgress extends ImportCounts {
  /** The file being looked at last, for "Importing IM00412…" lines. */
  current?: string;
}

export interface ImportServiceOptions {
  db: CatalogDatabase;
  now?: () => Date;
  /** Files indexed at once: many small reads in flight keep libuv's file threads and the disk busy. */
  concurrency?: number;
  /** Files per catalog transaction (one fsync each): an interrupted import loses at most one uncommitted batch. */
  batchSize?: number;
  /** Where bare data sets get their Part 10 file made (default: `wrapped/` beside the catalog file). */
  wrappedDir?: string;
  /** The workstation's AE title, named as Source AE in those files' meta header. */
  sourceAeTitle?: string;
}

export interface ImportRunResult {
  runId: number;
  counts: ImportCounts;
  /** Every study the source held (new, duplicate or conflicting instances alike), to queue for sending. */
  studyInstanceUids: string[];
  /** New instances that were bare data sets, catalogued in the Part 10 file made for them ("DICOM file header added"). */
  fileHeaderAdded: number;
}

/**
 * Runs an import: pulls files from a source, indexes several at a time, and writes the catalog in
 * batches, each batch one transaction together with the run's counts. Bad input is recorded as a
 * skip with its reason and the rest goes on; a process killed mid-import leaves whole batches only,
 * and running the same import again counts what is already there as duplicates.
 */
export class ImportService {
  private readonly runs: ImportRunsRepository;
  private readonly instances: InstancesRepository;

  private readonly wrap: WrapOptions;

  constructor(private readonly options: ImportServiceOptions) {
    this.wrap = { wrappedDir: options.wrappedDir ?? join(dirname(options.db.name), 'wrapped'), ...(options.sourceAeTitle ? { sourceAeTitle: options.sourceAeTitle } : {}) };
    this.runs = new ImportRunsRepository(options.db, options.now);
    this.instances = new InstancesRepository(options.db, options.now);
    this.runs.markInterrupted();
  }

  async run(sourceLabel: string, source: ImportSource, onProgress?: (progress: ImportProgress) => void): Promise<ImportRunResult> {
    const runId = this.runs.start(sourceLabel);
    const counts: ImportCounts = { found: 0, imported: 0, duplicates: 0, conflicts: 0, skipped: 0 };
    const batchSize = this.options.batchSize ?? 1000;
    const concurrency = this.options.concurrency ?? 32;
    const studies = new Set<string>();
    let fileHeaderAdded = 0;
    let pendingFiles: IndexedFile[] = [];
    let pendingSkips: SkippedInput[] = [];

    const flush = () => {
      if (pendingFiles.length === 0 && pendingSkips.length === 0) return;
      const files = pendingFiles;
      const skips = pendingSkips;
      pendingFiles = [];
      pendingSkips = [];
      this.options.db.transaction(() => {
        for (const file of files) {
          const outcome = this.instances.add(file, runId);
          if (outcome === 'imported' && file.header.withoutFileMeta) fileHeaderAdded++;
          if (outcome === 'imported') counts.imported++;
          else if (outcome === 'duplicate') counts.duplicates++;
          else counts.conflicts++;
        }
        for (const skip of skips) this.runs.recordSkip(runId, skip);
        this.runs.saveCounts(runId, counts);
      })();
    };
    const accept = (result: IndexResult, displayName: string) => {
      if (result.ok) {
        pendingFiles.push(result.file);
        studies.add(result.file.header.study.instanceUid);
      }
      else {
        pendingSkips.push(result.skipped);
        counts.skipped++;
      }
      if (pendingFiles.length + pendingSkips.length >= batchSize) flush();
      onProgress?.({ ...counts, current: displayName });
    };

    // Files are read `concurrency` at a time but catalogued in the order the source lists them, so
    // when two files of one import share a SOP Instance UID, the one listed first is the one kept
    // and sent, and the other is the conflict, on every run (not whichever read finished first).
    // The window of read-but-not-yet-catalogued files is bounded by `concurrency` too.
    const inFlight = new Set<Promise<void>>();
    const finished = new Map<number, () => void>();
    let listed = 0;
    let catalogued = 0;
    const inOrder = (position: number, step: () => void) => {
      finished.set(position, step);
      for (let next = finished.get(catalogued); next; next = finished.get(catalogued)) {
        finished.delete(catalogued++);
        next();
      }
    };
    for await (const item of source) {
      counts.found++;
      const position = listed++;
      if (item.kind === 'skipped') {
        inOrder(position, () => accept({ ok: false, skipped: item.skipped }, item.skipped.displayName));
        continue;
      }
      const task: Promise<void> = indexFile(item.file, this.wrap)
        .then((result) => inOrder(position, () => accept(result, item.file.displayName)))
        .finally(() => inFlight.delete(task));
      inFlight.add(task);
      while (listed - catalogued >= concurrency && inFlight.size > 0) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    flush();
    this.runs.finish(runId, counts);
    onProgress?.({ ...counts });
    return { runId, counts, studyInstanceUids: [...studies], fileHeaderAdded };
  }
}
