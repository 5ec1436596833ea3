import type { InstanceHeader } from '../dicom/instance-header.js';
import type { CatalogDatabase } from './catalog-database.js';

export interface IndexedFile {
  header: InstanceHeader;
  size: number;
  sha256: string;
  path: string;
  displayName: string;
}

export type AddOutcome = 'imported' | 'duplicate' | 'conflict';

/**
 * Patient → study → series → instance rows, written together so a crash between any two files
 * leaves either the whole instance or none of it. The same SOP Instance UID with the same bytes is
 * one instance (a duplicate); with other bytes it is a conflict kept for the user to resolve, never
 * dropped or overwritten.
 */
export class InstancesRepository {
  private readonly statements;

  constructor(private readonly db: CatalogDatabase, private readonly now: () => Date = () => new Date()) {
    this.statements = {
      findInstance: db.prepare('SELECT id, sha256 FROM instances WHERE sop_instance_uid = ?'),
      upsertPatient: db.prepare(`INSERT INTO patients (patient_id, name, birth_date, sex) VALUES (?, ?, ?, ?)
        ON CONFLICT (patient_id, name) DO UPDATE SET birth_date = CASE WHEN excluded.birth_date <> '' THEN excluded.birth_date ELSE birth_date END
        RETURNING id`),
      findStudy: db.prepare('SELECT id FROM studies WHERE study_instance_uid = ?'),
      insertStudy: db.prepare(`INSERT INTO studies (study_instance_uid, patient_row_id, study_date, study_time, description, accession_number, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
      findSeries: db.prepare('SELECT id FROM series WHERE series_instance_uid = ?'),
      insertSeries: db.prepare('INSERT INTO series (series_instance_uid, study_row_id, modality, series_number, description) VALUES (?, ?, ?, ?, ?) RETURNING id'),
      insertInstance: db.prepare(`INSERT INTO instances (sop_instance_uid, series_row_id, sop_class_uid, instance_number, number_of_frames, transfer_syntax_uid,
        size, sha256, path, display_name, import_run_id, created_at, file_meta_added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertConflict: db.prepare(`INSERT OR IGNORE INTO instance_conflicts (sop_instance_uid, existing_instance_id, sha256, size, path, display_name, import_run_id, detected_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    };
  }

  /** Adds one indexed file. Call inside a transaction when adding many. */
  add(file: IndexedFile, importRunId: number | null): AddOutcome {
    const s = this.statements;
    const { header } = file;
    const now = this.now().toISOString();
    const existing = s.findInstance.get(header.sopInstanceUid) as { id: number; sha256: string } | undefined;
    if (existing) {
      if (existing.sha256 === file.sha256) return 'duplicate';
      s.insertConflict.run(header.sopInstanceUid, existing.id, file.sha256, file.size, file.path, file.displayName, importRunId, now);
      return 'conflict';
    }
    const patient = s.upsertPatient.get(header.patient.id, header.patient.name, header.patient.birthDate, header.patient.sex) as { id: number };
    const study = (s.findStudy.get(header.study.instanceUid) as { id: number } | undefined)
      ?? (s.insertStudy.get(header.study.instanceUid, patient.id, header.study.date, header.study.time, header.study.description, header.study.accessionNumber, now) as { id: number });
    const series = (s.findSeries.get(header.series.instanceUid) as { id: number } | undefined)
      ?? (s.insertSeries.get(header.series.instanceUid, study.id, header.series.modality, header.series.number, header.series.description) as { id: number });
    s.insertInstance.run(header.sopInstanceUid, series.id, header.sopClassUid, header.instanceNumber, header.numberOfFrames, header.transferSyntaxUid,
      file.size, file.sha256, file.path, file.displayName, importRunId, now, header.withoutFileMeta ? 1 : 0);
    return 'imported';
  }
}
