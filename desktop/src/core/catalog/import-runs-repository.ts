import type { SkippedInput } from '../import/import-source.js';
import type { CatalogDatabase } from './catalog-database.js';

export interface ImportCounts {
  found: number;
  imported: number;
  duplicates: number;
  conflicts: number;
  skipped: number;
}

export interface ImportRunRecord extends ImportCounts {
  id: number;
  source: string;
  state: 'running' | 'finished' | 'interrupted';
  startedAt: string;
  finishedAt: string | null;
}

/** Import runs: what was imported from where, when, and what could not be used, with reasons. */
export class ImportRunsRepository {
  // Prepared once: both run inside every import batch.
  private readonly saveCountsStatement;
  private readonly recordSkipStatement;

  constructor(private readonly db: CatalogDatabase, private readonly now: () => Date = () => new Date()) {
    this.saveCountsStatement = db.prepare('UPDATE import_runs SET found = ?, imported = ?, duplicates = ?, conflicts = ?, skipped = ? WHERE id = ?');
    this.recordSkipStatement = db.prepare('INSERT INTO import_skips (import_run_id, display_name, code, reason) VALUES (?, ?, ?, ?)');
  }

  /** Runs left 'running' by a process that died are marked interrupted: they can simply be run again. */
  markInterrupted(): number {
    return this.db.prepare(`UPDATE import_runs SET state = 'interrupted', finished_at = ? WHERE state = 'running'`).run(this.now().toISOString()).changes;
  }

  start(source: string): number {
    return Number(this.db.prepare(`INSERT INTO import_runs (source, state, started_at) VALUES (?, 'running', ?)`).run(source, this.now().toISOString()).lastInsertRowid);
  }

  /** Saves the counts so far (called with each batch, so an interrupted run still tells what it did). */
  saveCounts(id: number, counts: ImportCounts): void {
    this.saveCountsStatement.run(counts.found, counts.imported, counts.duplicates, counts.conflicts, counts.skipped, id);
  }

  recordSkip(id: number, skipped: SkippedInput): void {
    this.recordSkipStatement.run(id, skipped.displayName, skipped.code, skipped.reason);
  }

  finish(id: number, counts: ImportCounts): void {
    this.saveCounts(id, counts);
    this.db.prepare(`UPDATE import_runs SET state = 'finished', finished_at = ? WHERE id = ?`).run(this.now().toISOString(), id);
  }

  find(id: number): ImportRunRecord | undefined {
    const row = this.db.prepare('SELECT * FROM import_runs WHERE id = ?').get(id) as
      { id: number; source: string; state: ImportRunRecord['state']; started_at: string; finished_at: string | null } & ImportCounts | undefined;
    return row && {
      id: row.id, source: row.source, state: row.state, startedAt: row.started_at, finishedAt: row.finished_at,
      found: row.found, imported: row.imported, duplicates: row.duplicates, conflicts: row.conflicts, skipped: row.skipped,
    };
  }

  skips(id: number): SkippedInput[] {
    return this.db.prepare('SELECT display_name AS displayName, code, reason FROM import_skips WHERE import_run_id = ? ORDER BY id').all(id) as SkippedInput[];
  }
}
