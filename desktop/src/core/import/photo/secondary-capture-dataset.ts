import type { NaturalDataset } from 'dcmjs';
import type { PhotoImage } from './photo-image.js';
import type { SecondaryCaptureAttributes } from './secondary-capture-attributes.js';

/** Secondary Capture Image Storage (PS3.4 B.5, PS3.3 A.8.1). */
export const SECONDARY_CAPTURE_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.7';

/**
 * The attributes of a Secondary Capture Image (PS3.3 A.8.1, Table A.8-1) for one photo, except
 * the SOP Class and Instance UIDs and Pixel Data, which the writer adds. Type 2 attributes with
 * no value are present and empty, as the IOD requires.
 */
export function secondaryCaptureDataset(attributes: SecondaryCaptureAttributes, image: PhotoImage, seriesInstanceUid: string, now: Date): NaturalDataset {
  const today = dicomDate(now);
  const time = dicomTime(now);
  const strings = [attributes.patientName, attributes.patientId, attributes.studyDescription, attributes.accessionNumber, attributes.referringPhysicianName, attributes.seriesDescription];
  return {
    // dcmjs writes text as UTF-8; declare it when any value leaves ASCII (PS3.3 C.12.1.1.2).
    ...(strings.some((value) => value !== undefined && /[^\x20-\x7e]/.test(value)) ? { SpecificCharacterSet: 'ISO_IR 192' } : {}),
    // SOP Common (C.12.1)
    InstanceCreationDate: today,
    InstanceCreationTime: time,
    // General Image (C.7.6.1): a capture made from another image, not acquired by a modality.
    ImageType: ['DERIVED', 'SECONDARY'],
    // General Study (C.7.2.1)
    StudyDate: attributes.studyDate ?? '',
    StudyTime: attributes.studyTime ?? '',
    AccessionNumber: attributes.accessionNumber ?? '',
    // General Series (C.7.3.1) and SC Equipment (C.8.6.1)
    Modality: attributes.modality ?? 'XC',
    ConversionType: attributes.conversionType ?? 'WSD',
    SecondaryCaptureDeviceManufacturer: 'RelayPACS',
    ReferringPhysicianName: attributes.referringPhysicianName ?? '',
    ...(attributes.studyDescription !== undefined ? { StudyDescription: attributes.studyDescription } : {}),
    SeriesDescription: attributes.seriesDescription ?? 'Photos',
    // General Series (C.7.3.1): Laterality is Type 2C, required when the body part may be a
    // paired structure (an arm, a breast). A photo does not say what it shows, so its laterality
    // is unknown: present, and empty.
    Laterality: '',
    // Patient (C.7.1.1)
    PatientName: attributes.patientName,
    PatientID: attributes.patientId,
    PatientBirthDate: attributes.patientBirthDate ?? '',
    PatientSex: attributes.patientSex ?? '',
    StudyInstanceUID: attributes.studyInstanceUid,
    SeriesInstanceUID: seriesInstanceUid,
    StudyID: '',
    SeriesNumber: attributes.seriesNumber ?? '',
    InstanceNumber: attributes.instanceNumber ?? 1,
    // Type 2C: an SC image has no Image Orientation (Patient), so this is present, and empty.
    PatientOrientation: '',
    // Image Pixel (C.7.6.3)
    SamplesPerPixel: image.samplesPerPixel,
    PhotometricInterpretation: image.photometricInterpretation,
    ...(image.samplesPerPixel === 3 ? { PlanarConfiguration: 0 } : {}),
    Rows: image.rows,
    Columns: image.columns,
    BitsAllocated: image.bitsAllocated,
    BitsStored: image.bitsAllocated,
    HighBit: image.bitsAllocated - 1,
    PixelRepresentation: 0,
    // General Image: once lossy, always declared lossy (C.7.6.1.1.5), even when stored native.
    LossyImageCompression: image.lossy ? '01' : '00',
    ...(image.lossy ? { LossyImageCompressionMethod: 'ISO_10918_1' } : {}),
    // SC Image (C.8.6.2)
    DateOfSecondaryCapture: today,
    TimeOfSecondaryCapture: time,
  };
}

function dicomDate(date: Date): string {
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}`;
}

function dicomTime(date: Date): string {
  return `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

const pad = (value: number) => String(value).padStart(2, '0');
