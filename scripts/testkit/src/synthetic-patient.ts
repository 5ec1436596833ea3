import type { SeededRandom } from './seeded-random.js';

/**
 * Synthetic demographics. Names are drawn from invented word lists so they read like names on a
 * worklist but belong to no one; IDs carry the SYN prefix so they are never mistaken for real MRNs.
 */
const FAMILY_NAMES = ['ALDERWICK', 'BRAMBLEFORD', 'CASTERLY', 'DUNMORROW', 'ELLINGHAST', 'FENWORTHY', 'GALLOWMERE', 'HARROWICK', 'IVERSTONE', 'JASKELL', 'KETTLEBURN', 'LOWMARSH', 'MARROWGATE', 'NETHERBY', 'OAKENSHAW', 'PENRIDDLE', 'QUILLFEATHER', 'RAVENSCAR', 'STOWELLBY', 'THORNQUIST'] as const;
const GIVEN_NAMES = ['ADA', 'BASTIEN', 'CORALIE', 'DORIAN', 'ELOWEN', 'FABIAN', 'GWENDA', 'HOLLIS', 'INGRID', 'JASPER', 'KESTREL', 'LINNEA', 'MARIUS', 'NERISSA', 'ORSON', 'PERPETUA', 'QUENTIN', 'ROSALIND', 'SILAS', 'TAMSIN'] as const;

export interface SyntheticPatient {
  /** DICOM PN: FAMILY^GIVEN */
  name: string;
  id: string;
  /** DICOM DA: YYYYMMDD */
  birthDate: string;
  sex: 'M' | 'F' | 'O';
}

export function syntheticPatient(random: SeededRandom): SyntheticPatient {
  const year = random.int(1935, 2020);
  return {
    name: `${random.pick(FAMILY_NAMES)}^${random.pick(GIVEN_NAMES)}`,
    id: `SYN${random.int(1_000_000, 9_999_999)}`,
    birthDate: dicomDate(year, random.int(1, 12), random.int(1, 28)),
    sex: random.pick(['M', 'F', 'F', 'M', 'O'] as const),
  };
}

export function dicomDate(year: number, month: number, day: number): string {
  return `${year}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}`;
}

/** PS3.5 AS: the age at the study date in years, e.g. "047Y". */
export function dicomAge(birthDate: string, studyDate: string): string {
  const years = Number(studyDate.slice(0, 4)) - Number(birthDate.slice(0, 4));
  const beforeBirthday = studyDate.slice(4) < birthDate.slice(4);
  return `${String(Math.max(0, years - (beforeBirthday ? 1 : 0))).padStart(3, '0')}Y`;
}
