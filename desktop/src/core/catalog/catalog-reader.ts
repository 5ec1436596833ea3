import type { CatalogDatabase } from './catalog-database.js';

export interface CatalogInstanceRow {
  sopInstanceUid: string;
  sopClassUid: string;
  instanceNumber: number | null;
  transferSyntaxUid: string;
  size: number;
  sha256: string;
  path: string;
  displayName: string;
  /** Present when the file was a bare data set, sent in the Part 10 file made for it ("DICOM file header added"). */
  fileMetaAdded?: true;
}

export interface CatalogSeriesRow {
  seriesInstanceUid: string;
  modality: string;
  seriesNumber: number | null;
  description: string;
  instances: CatalogInstanceRow[];
}

export interface CatalogStudyRow {
  studyInstanceUid: string;
  studyDate: string;
  description: string;
  accessionNumber: string;
  patient: { patientId: string; name: string; birthDate: string; sex: string };
  series: CatalogSeriesRow[];
}

export interface ConflictRow {
  sopInstanceUid: string;
  existingPath: string;
  newPath: string;
  newDisplayName: string;
  newSha256: string;
}

/** Read side of the catalog: studies as patient → study → series → instance trees. */
export class CatalogReader {
  constructor(private readonly db: CatalogDatabase) {}

  studyUids(): string[] {
    return (this.db.prepare('SELECT study_instance_uid FROM studies ORDER BY study_date DESC, id').all() as { study_instance_uid: string }[]).map((r) => r.study_instance_uid);
  }

  study(studyInstanceUid: string): CatalogStudyRow | undefined {
    const study = this.db.prepare(`SELECT s.id, s.study_instance_uid, s.study_date, s.description, s.accession_number,
        p.patient_id, p.name, p.birth_date, p.sex
      FROM studies s JOIN patients p ON p.id = s.patient_row_id WHERE s.study_instance_uid = ?`).get(studyInstanceUid) as
      { id: number; study_instance_uid: string; study_date: string; description: string; accession_number: string; patient_id: string; name: string; birth_date: string; sex: string } | undefined;
    if (!study) return undefined;
    const series = this.db.prepare('SELECT id, series_instance_uid, modality, series_number, description FROM series WHERE study_row_id = ? ORDER BY series_number, id')
      .all(study.id) as { id: number; series_instance_uid: string; modality: string; series_number: number | null; description: string }[];
    const instancesOf = this.db.prepare(`SELECT sop_instance_uid AS sopInstanceUid, sop_class_uid AS sopClassUid, instance_number AS instanceNumber,
        transfer_syntax_uid AS transferSyntaxUid, size, sha256, path, display_name AS displayName, file_meta_added AS fileMetaAdded
      FROM instances WHERE series_row_id = ? ORDER BY instance_number, id`);
    const instanceRow = ({ fileMetaAdded, ...row }: Omit<CatalogInstanceRow, 'fileMetaAdded'> & { fileMetaAdded: number }): CatalogInstanceRow =>
      (fileMetaAdded ? { ...row, fileMetaAdded: true } : row);
    return {
      studyInstanceUid: study.study_instance_uid, studyDate: study.study_date, description: study.description, accessionNumber: study.accession_number,
      patient: { patientId: study.patient_id, name: study.name, birthDate: study.birth_date, sex: study.sex },
      series: series.map((s) => ({
        seriesInstanceUid: s.series_instance_uid, modality: s.modality, seriesNumber: s.series_number, description: s.description,
        instances: (instancesOf.all(s.id) as (Omit<CatalogInstanceRow, 'fileMetaAdded'> & { fileMetaAdded: number })[]).map(instanceRow),
      })),
    };
  }

  conflicts(): ConflictRow[] {
    return this.db.prepare(`SELECT c.sop_instance_uid AS sopInstanceUid, i.path AS existingPath, c.path AS newPath, c.display_name AS newDisplayName, c.sha256 AS newSha256
      FROM instance_conflicts c JOIN instances i ON i.id = c.existing_instance_id WHERE c.resolution IS NULL ORDER BY c.id`).all() as ConflictRow[];
  }

  counts(): { patients: number; studies: number; series: number; instances: number } {
    const count = (table: string) => (this.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    return { patients: count('patients'), studies: count('studies'), series: count('series'), instances: count('instances') };
  }
}
