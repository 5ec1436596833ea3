import type { GeneratedStudy } from './study-generator.js';

/**
 * Data sets written as DCMTK dump text, for dump2dcm to turn into files (what DCMTK users do by
 * hand): lines of "(gggg,eeee) VR [value]", sequences and items opened and closed explicitly.
 */

/** A value in dcmdump/dump2dcm text form: brackets hold the value; ']' cannot appear in these values. */
export function dumpValue(value: string): string {
  if (value.includes(']')) throw new Error(`dump2dcm value with ']': ${value}`);
  return `[${value}]`;
}

export function dicomDateTime(now = new Date()): { date: string; time: string } {
  const iso = now.toISOString();
  return { date: iso.slice(0, 10).replaceAll('-', ''), time: iso.slice(11, 19).replaceAll(':', '') };
}

/** The patient and study attributes every object of the corpus shares with the generated study. */
export function patientStudyDump(study: GeneratedStudy): string[] {
  return [
    '(0008,0005) CS [ISO_IR 100]',
    `(0008,0020) DA ${dumpValue(study.studyDate)}`,
    '(0008,0030) TM [100000]',
    `(0008,0050) SH ${dumpValue(study.accessionNumber)}`,
    '(0008,0090) PN []',
    `(0010,0010) PN ${dumpValue(study.patient.name)}`,
    `(0010,0020) LO ${dumpValue(study.patient.id)}`,
    `(0010,0030) DA ${dumpValue(study.patient.birthDate)}`,
    `(0010,0040) CS ${dumpValue(study.patient.sex)}`,
    `(0020,000d) UI ${dumpValue(study.studyInstanceUid)}`,
    '(0020,0010) SH [1]',
  ];
}

/** One code sequence item (PS3.3 §8.8) in dump2dcm form. */
export function codeSequence(tag: string, value: string, scheme: string, meaning: string): string[] {
  return [
    `${tag} SQ (Sequence with undefined length)`,
    '(fffe,e000) na (Item with undefined length)',
    `(0008,0100) SH ${dumpValue(value)}`,
    `(0008,0102) SH ${dumpValue(scheme)}`,
    `(0008,0104) LO ${dumpValue(meaning)}`,
    '(fffe,e00d) na (ItemDelimitationItem)',
    '(fffe,e0dd) na (SequenceDelimitationItem)',
  ];
}

export function emptySequence(tag: string): string[] {
  return [`${tag} SQ (Sequence with undefined length)`, '(fffe,e0dd) na (SequenceDelimitationItem)'];
}

/**
 * What an SR document (an SR or a Key Object Selection) starts with: patient and study, its SOP
 * class and instance, content date and time, modality, manufacturer, an empty Referenced Performed
 * Procedure Step Sequence, and its own series (SR Document Series module, PS3.3 §C.17.1).
 */
export function srDocumentHeader(study: GeneratedStudy, sopClassUid: string, modality: string, uids: { series: string; instance: string }, seriesNumber: number): string[] {
  const { date, time } = dicomDateTime();
  return [
    ...patientStudyDump(study),
    `(0008,0016) UI ${sopClassUid}`,
    `(0008,0018) UI ${uids.instance}`,
    `(0008,0023) DA ${date}`,
    `(0008,0033) TM ${time}`,
    `(0008,0060) CS [${modality}]`,
    '(0008,0070) LO [OFFIS DCMTK dump2dcm]',
    ...emptySequence('(0008,1111)'),
    `(0020,000e) UI ${uids.series}`,
    `(0020,0011) IS [${seriesNumber}]`,
    '(0020,0013) IS [1]',
  ];
}

