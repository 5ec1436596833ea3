/**
 * Storage SOP classes RelayPACS names (PS3.4 Annex B.5), with `allowed` marking the image, document
 * and structured-report classes a radiology department sends: the list a site starts from when it
 * narrows `upload.allowedSopClasses` from its default, every class (ANY_SOP_CLASS).
 */
const STORAGE_SOP_CLASSES: readonly { uid: string; name: string; allowed: boolean }[] = [
  { uid: '1.2.840.10008.5.1.4.1.1.1', name: 'Computed Radiography', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.1.1', name: 'Digital X-Ray, for presentation', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.1.1.1', name: 'Digital X-Ray, for processing', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.1.2', name: 'Digital Mammography, for presentation', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.1.2.1', name: 'Digital Mammography, for processing', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.1.3', name: 'Digital Intra-Oral X-Ray, for presentation', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.1.3.1', name: 'Digital Intra-Oral X-Ray, for processing', allowed: false },
  { uid: '1.2.840.10008.5.1.4.1.1.2', name: 'CT', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.2.1', name: 'Enhanced CT', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.3.1', name: 'Ultrasound Multi-frame', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.4', name: 'MR', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.4.1', name: 'Enhanced MR', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.6.1', name: 'Ultrasound', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.7', name: 'Secondary Capture', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.7.1', name: 'Multi-frame Single Bit SC', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.7.2', name: 'Multi-frame Grayscale Byte SC', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.7.3', name: 'Multi-frame Grayscale Word SC', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.7.4', name: 'Multi-frame True Color SC', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.12.1', name: 'X-Ray Angiographic', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.12.1.1', name: 'Enhanced XA', allowed: false },
  { uid: '1.2.840.10008.5.1.4.1.1.12.2', name: 'X-Ray Radiofluoroscopic', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.12.2.1', name: 'Enhanced XRF', allowed: false },
  { uid: '1.2.840.10008.5.1.4.1.1.13.1.3', name: 'Breast Tomosynthesis', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.20', name: 'Nuclear Medicine', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.77.1.1', name: 'VL Endoscopic', allowed: false },
  { uid: '1.2.840.10008.5.1.4.1.1.77.1.2', name: 'VL Microscopic', allowed: false },
  { uid: '1.2.840.10008.5.1.4.1.1.77.1.4', name: 'VL Photographic', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.88.11', name: 'Basic Text SR', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.88.22', name: 'Enhanced SR', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.88.33', name: 'Comprehensive SR', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.88.67', name: 'X-Ray Radiation Dose SR', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.104.1', name: 'Encapsulated PDF', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.128', name: 'PET', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.130', name: 'Enhanced PET', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.481.1', name: 'RT Image', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.66.4', name: 'Segmentation', allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.11.1', name: 'Grayscale Softcopy Presentation State', allowed: true },
];

export const DEFAULT_ALLOWED_SOP_CLASSES: readonly string[] = STORAGE_SOP_CLASSES.filter((c) => c.allowed).map((c) => c.uid);

/**
 * In upload.allowedSopClasses: every SOP class. The relay's default, since a PACS stores any storage
 * SOP class (Orthanc does, Key Object Selection and private classes included) and a relay that
 * refuses what the PACS would take loses studies for nothing; a site can narrow it to a list.
 */
export const ANY_SOP_CLASS = '*';

/** A readable name for a SOP class UID, for rejection reasons and logs. */
export function sopClassName(uid: string): string | undefined {
  return STORAGE_SOP_CLASSES.find((c) => c.uid === uid)?.name;
}
