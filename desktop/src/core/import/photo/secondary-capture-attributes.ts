import { PhotoConversionError } from './photo-errors.js';

/**
 * Who and what a photo belongs to: copied from the study it is attached to, or entered by the
 * user. Values are DICOM-formatted strings (dates YYYYMMDD, times HHMMSS, names FAMILY^GIVEN).
 */
export interface SecondaryCaptureAttributes {
  /** Patient's Name (0010,0010), PN. */
  patientName: string;
  /** Patient ID (0010,0020), LO; must not be empty: an unidentified photo would be misfiled. */
  patientId: string;
  /** Patient's Birth Date (0010,0030), DA. */
  patientBirthDate?: string;
  /** Patient's Sex (0010,0040). */
  patientSex?: 'M' | 'F' | 'O';
  /** Study Instance UID (0020,000D) of the study the photo joins. */
  studyInstanceUid: string;
  /** Study Date (0008,0020), DA. */
  studyDate?: string;
  /** Study Time (0008,0030), TM. */
  studyTime?: string;
  /** Study Description (0008,1030), LO. */
  studyDescription?: string;
  /** Accession Number (0008,0050), SH. */
  accessionNumber?: string;
  /** Referring Physician's Name (0008,0090), PN. */
  referringPhysicianName?: string;
  /** Series Instance UID (0020,000E); a new series is made when absent. */
  seriesInstanceUid?: string;
  /** Series Number (0020,0011), IS. */
  seriesNumber?: number;
  /** Series Description (0008,103E), LO; default 'Photos'. */
  seriesDescription?: string;
  /** Instance Number (0020,0013), IS; default 1 (photoSource numbers a batch from it). */
  instanceNumber?: number;
  /** Modality (0008,0060); default 'XC' (external-camera photography, PS3.3 C.7.3.1.1.1). 'DOC' suits a scanned request. */
  modality?: string;
  /**
   * Conversion Type (0008,0064) of the SC Equipment module (PS3.3 C.8.6.1); default 'WSD'
   * (workstation). 'SD' (scanned document) or 'DI' (digital interface) where they fit better.
   */
  conversionType?: 'WSD' | 'SD' | 'SI' | 'DI' | 'DV' | 'DF' | 'DRW' | 'SYN';
}

const UID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$/;
const DATE = /^[0-9]{4}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$/;
const TIME = /^([01][0-9]|2[0-3])([0-5][0-9]([0-5][0-9](\.[0-9]{1,6})?)?)?$/;
const CODE_STRING = /^[A-Z0-9_ ]{1,16}$/;
const INTEGER_STRING_RANGE = 2 ** 31;
const CONVERSION_TYPES: readonly string[] = ['WSD', 'SD', 'SI', 'DI', 'DV', 'DF', 'DRW', 'SYN'];

/**
 * Checks the attributes against their value representations (PS3.5 §6.2, Table 6.2-1), so an
 * object that Orthanc or a stricter PACS would refuse is never written. Throws a
 * PhotoConversionError (INVALID_REQUEST) naming the attribute, never echoing its value.
 */
export function checkSecondaryCaptureAttributes(attributes: SecondaryCaptureAttributes): void {
  const fail = (reason: string): never => {
    throw new PhotoConversionError('INVALID_REQUEST', reason);
  };
  personName(attributes.patientName, "patient's name", true, fail);
  text(attributes.patientId, 'patient ID', 64, fail);
  if (attributes.patientId.trim() === '') fail('patient ID is empty');
  if (attributes.patientBirthDate !== undefined && attributes.patientBirthDate !== '' && !DATE.test(attributes.patientBirthDate)) fail("patient's birth date is not a date in the form YYYYMMDD");
  if (attributes.patientSex !== undefined && !['M', 'F', 'O'].includes(attributes.patientSex)) fail("patient's sex is not M, F or O");
  uid(attributes.studyInstanceUid, 'study instance UID', fail);
  if (attributes.studyDate !== undefined && attributes.studyDate !== '' && !DATE.test(attributes.studyDate)) fail('study date is not a date in the form YYYYMMDD');
  if (attributes.studyTime !== undefined && attributes.studyTime !== '' && !TIME.test(attributes.studyTime)) fail('study time is not a time in the form HHMMSS');
  if (attributes.studyDescription !== undefined) text(attributes.studyDescription, 'study description', 64, fail);
  if (attributes.accessionNumber !== undefined) text(attributes.accessionNumber, 'accession number', 16, fail);
  if (attributes.referringPhysicianName !== undefined) personName(attributes.referringPhysicianName, "referring physician's name", false, fail);
  if (attributes.seriesInstanceUid !== undefined) uid(attributes.seriesInstanceUid, 'series instance UID', fail);
  if (attributes.seriesNumber !== undefined) integerString(attributes.seriesNumber, 'series number', fail);
  if (attributes.seriesDescription !== undefined) text(attributes.seriesDescription, 'series description', 64, fail);
  if (attributes.instanceNumber !== undefined) integerString(attributes.instanceNumber, 'instance number', fail);
  if (attributes.modality !== undefined && !CODE_STRING.test(attributes.modality)) fail('modality is not a DICOM code (upper-case letters and digits, at most 16)');
  if (attributes.conversionType !== undefined && !CONVERSION_TYPES.includes(attributes.conversionType)) fail('conversion type is not one of the defined terms of PS3.3 C.8.6.1');
}

function uid(value: string, name: string, fail: (reason: string) => never): void {
  if (value.length > 64 || !UID.test(value)) fail(`${name} is not a valid DICOM UID`);
}

function text(value: string, name: string, maxLength: number, fail: (reason: string) => never): void {
  if ([...value].length > maxLength) fail(`${name} is longer than ${maxLength} characters`);
  if (hasForbiddenCharacter(value)) fail(`${name} contains a backslash or a control character`);
}

/** PN: up to three component groups (alphabetic=ideographic=phonetic), each at most 64 characters. */
function personName(value: string, name: string, required: boolean, fail: (reason: string) => never): void {
  if (required && value.trim() === '') fail(`${name} is empty`);
  const groups = value.split('=');
  if (groups.length > 3) fail(`${name} has more than three component groups`);
  for (const group of groups) text(group, name, 64, fail);
  if (groups.some((group) => group.split('^').length > 5)) fail(`${name} has more than five components`);
}

function integerString(value: number, name: string, fail: (reason: string) => never): void {
  if (!Number.isInteger(value) || value < -INTEGER_STRING_RANGE || value >= INTEGER_STRING_RANGE) fail(`${name} is not a whole number within the DICOM range`);
}

/** Text values hold no control character but ESC (ISO 2022 escapes), and no backslash, the value separator (PS3.5 §6.2). */
function hasForbiddenCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x5c || c === 0x7f || (c < 0x20 && c !== 0x1b)) return true;
  }
  return false;
}
