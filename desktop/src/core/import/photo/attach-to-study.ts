import type { CatalogReader } from '../../catalog/catalog-reader.js';
import type { SecondaryCaptureAttributes } from './secondary-capture-attributes.js';

/**
 * Patient and study attributes for photos attached to a study already in the catalog, so the
 * photos land in that study at the PACS (a new "Photos" series).
 */
export function attributesForCatalogStudy(reader: CatalogReader, studyInstanceUid: string): SecondaryCaptureAttributes | undefined {
  const study = reader.study(studyInstanceUid);
  if (!study) return undefined;
  const sex = study.patient.sex;
  return {
    patientName: study.patient.name,
    patientId: study.patient.patientId,
    ...(study.patient.birthDate ? { patientBirthDate: study.patient.birthDate } : {}),
    ...(sex === 'M' || sex === 'F' || sex === 'O' ? { patientSex: sex } : {}),
    studyInstanceUid: study.studyInstanceUid,
    ...(study.studyDate ? { studyDate: study.studyDate } : {}),
    ...(study.description ? { studyDescription: study.description } : {}),
    ...(study.accessionNumber ? { accessionNumber: study.accessionNumber } : {}),
    seriesNumber: Math.max(0, ...study.series.map((s) => s.seriesNumber ?? 0)) + 1,
    seriesDescription: 'Photos',
  };
}
