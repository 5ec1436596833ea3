import { TAG } from '@relaypacs/dicom';
import type { DataElement } from './part10-writer.js';
import type { PhotoImage } from './photo-image.js';
import type { SecondaryCaptureAttributes } from './secondary-capture-attributes.js';

/** Secondary Capture Image Storage (PS3.4 B.5, PS3.3 A.8.1). */
export const SECONDARY_CAPTURE_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.7';

/**
 * The attributes of a Secondary Capture Image (PS3.3 A.8.1, Table A.8-1) for one photo, except
 * the SOP Class and Instance UIDs, Specific Character Set and Pixel Data, which the writer adds.
 * Type 2 attributes with no value are present and empty, as the IOD requires (PS3.5 §7.4.3).
 */
export function secondaryCaptureDataset(attributes: SecondaryCaptureAttributes, image: PhotoImage, seriesInstanceUid: string, now: Date): DataElement[] {
  const today = dicomDate(now);
  const time = dicomTime(now);
  // The writer sorts by tag and declares the character set (UTF-8 when a value leaves ASCII).
  const elements: (DataElement | false)[] = [
    // SOP Common (C.12.1)
    { tag: TAG.InstanceCreationDate, vr: 'DA', value: today },
    { tag: TAG.InstanceCreationTime, vr: 'TM', value: time },
    // General Image (C.7.6.1): a capture made from another image, not acquired by a modality.
    { tag: TAG.ImageType, vr: 'CS', value: ['DERIVED', 'SECONDARY'] },
    // General Study (C.7.2.1)
    { tag: TAG.StudyDate, vr: 'DA', value: attributes.studyDate ?? '' },
    { tag: TAG.StudyTime, vr: 'TM', value: attributes.studyTime ?? '' },
    { tag: TAG.AccessionNumber, vr: 'SH', value: attributes.accessionNumber ?? '' },
    // General Series (C.7.3.1) and SC Equipment (C.8.6.1)
    { tag: TAG.Modality, vr: 'CS', value: attributes.modality ?? 'XC' },
    { tag: TAG.ConversionType, vr: 'CS', value: attributes.conversionType ?? 'WSD' },
    { tag: TAG.SecondaryCaptureDeviceManufacturer, vr: 'LO', value: 'RelayPACS' },
    { tag: TAG.ReferringPhysicianName, vr: 'PN', value: attributes.referringPhysicianName ?? '' },
    attributes.studyDescription !== undefined && { tag: TAG.StudyDescription, vr: 'LO', value: attributes.studyDescription },
    { tag: TAG.SeriesDescription, vr: 'LO', value: attributes.seriesDescription ?? 'Photos' },
    // General Series (C.7.3.1): Laterality is Type 2C, required when the body part may be a
    // paired structure (an arm, a breast). A photo does not say what it shows, so its laterality
    // is unknown: present, and empty.
    { tag: TAG.Laterality, vr: 'CS', value: '' },
    // Patient (C.7.1.1)
    { tag: TAG.PatientName, vr: 'PN', value: attributes.patientName },
    { tag: TAG.PatientID, vr: 'LO', value: attributes.patientId },
    { tag: TAG.PatientBirthDate, vr: 'DA', value: attributes.patientBirthDate ?? '' },
    { tag: TAG.PatientSex, vr: 'CS', value: attributes.patientSex ?? '' },
    { tag: TAG.StudyInstanceUID, vr: 'UI', value: attributes.studyInstanceUid },
    { tag: TAG.SeriesInstanceUID, vr: 'UI', value: seriesInstanceUid },
    { tag: TAG.StudyID, vr: 'SH', value: '' },
    { tag: TAG.SeriesNumber, vr: 'IS', value: attributes.seriesNumber ?? '' },
    { tag: TAG.InstanceNumber, vr: 'IS', value: attributes.instanceNumber ?? 1 },
    // Type 2C: an SC image has no Image Orientation (Patient), so this is present, and empty.
    { tag: TAG.PatientOrientation, vr: 'CS', value: '' },
    // Image Pixel (C.7.6.3)
    { tag: TAG.SamplesPerPixel, vr: 'US', value: image.samplesPerPixel },
    { tag: TAG.PhotometricInterpretation, vr: 'CS', value: image.photometricInterpretation },
    image.samplesPerPixel === 3 && { tag: TAG.PlanarConfiguration, vr: 'US', value: 0 },
    { tag: TAG.Rows, vr: 'US', value: image.rows },
    { tag: TAG.Columns, vr: 'US', value: image.columns },
    { tag: TAG.BitsAllocated, vr: 'US', value: image.bitsAllocated },
    { tag: TAG.BitsStored, vr: 'US', value: image.bitsAllocated },
    { tag: TAG.HighBit, vr: 'US', value: image.bitsAllocated - 1 },
    { tag: TAG.PixelRepresentation, vr: 'US', value: 0 },
    // General Image: once lossy, always declared lossy (C.7.6.1.1.5), even when stored native.
    { tag: TAG.LossyImageCompression, vr: 'CS', value: image.lossy ? '01' : '00' },
    image.lossy && { tag: TAG.LossyImageCompressionMethod, vr: 'CS', value: 'ISO_10918_1' },
    // SC Image (C.8.6.2)
    { tag: TAG.DateOfSecondaryCapture, vr: 'DA', value: today },
    { tag: TAG.TimeOfSecondaryCapture, vr: 'TM', value: time },
  ];
  return elements.filter((element) => element !== false);
}

function dicomDate(date: Date): string {
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}`;
}

function dicomTime(date: Date): string {
  return `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

const pad = (value: number) => String(value).padStart(2, '0');
