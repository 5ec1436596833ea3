/**
 * Storage SOP classes the relay knows (PS3.4 Annex B.5), in one table:
 * - `image`: the IOD includes the Image Pixel module with Pixel Data required (PS3.3 §A, §C.7.6.3),
 *   so a data set that ends before Pixel Data was cut short. Classes not marked are checked only by
 *   the presence of Rows (0028,0010).
 * - `allowed`: accepted by default, the image, document and structured-report classes a radiology
 *   department sends. Configuration (`upload.allowedSopClasses`) can narrow or extend the list; an
 *   instance whose class is not allowed is rejected with that reason.
 */
const STORAGE_SOP_CLASSES: readonly { uid: string; name: string; image: boolean; allowed: boolean }[] = [
  { uid: '1.2.840.10008.5.1.4.1.1.1', name: 'Computed Radiography', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.1.1', name: 'Digital X-Ray, for presentation', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.1.1.1', name: 'Digital X-Ray, for processing', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.1.2', name: 'Digital Mammography, for presentation', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.1.2.1', name: 'Digital Mammography, for processing', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.1.3', name: 'Digital Intra-Oral X-Ray, for presentation', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.1.3.1', name: 'Digital Intra-Oral X-Ray, for processing', image: true, allowed: false },
  { uid: '1.2.840.10008.5.1.4.1.1.2', name: 'CT', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.2.1', name: 'Enhanced CT', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.3.1', name: 'Ultrasound Multi-frame', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.4', name: 'MR', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.4.1', name: 'Enhanced MR', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.6.1', name: 'Ultrasound', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.7', name: 'Secondary Capture', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.7.1', name: 'Multi-frame Single Bit SC', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.7.2', name: 'Multi-frame Grayscale Byte SC', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.7.3', name: 'Multi-frame Grayscale Word SC', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.7.4', name: 'Multi-frame True Color SC', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.12.1', name: 'X-Ray Angiographic', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.12.1.1', name: 'Enhanced XA', image: true, allowed: false },
  { uid: '1.2.840.10008.5.1.4.1.1.12.2', name: 'X-Ray Radiofluoroscopic', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.12.2.1', name: 'Enhanced XRF', image: true, allowed: false },
  { uid: '1.2.840.10008.5.1.4.1.1.13.1.3', name: 'Breast Tomosynthesis', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.20', name: 'Nuclear Medicine', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.77.1.1', name: 'VL Endoscopic', image: true, allowed: false },
  { uid: '1.2.840.10008.5.1.4.1.1.77.1.2', name: 'VL Microscopic', image: true, allowed: false },
  { uid: '1.2.840.10008.5.1.4.1.1.77.1.4', name: 'VL Photographic', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.88.11', name: 'Basic Text SR', image: false, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.88.22', name: 'Enhanced SR', image: false, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.88.33', name: 'Comprehensive SR', image: false, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.88.67', name: 'X-Ray Radiation Dose SR', image: false, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.104.1', name: 'Encapsulated PDF', image: false, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.128', name: 'PET', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.130', name: 'Enhanced PET', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.481.1', name: 'RT Image', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.66.4', name: 'Segmentation', image: true, allowed: true },
  { uid: '1.2.840.10008.5.1.4.1.1.11.1', name: 'Grayscale Softcopy Presentation State', image: false, allowed: true },
];

export const DEFAULT_ALLOWED_SOP_CLASSES: readonly string[] = STORAGE_SOP_CLASSES.filter((c) => c.allowed).map((c) => c.uid);

/**
 * In upload.allowedSopClasses: every SOP class. The relay's default, since a PACS stores any storage
 * SOP class (Orthanc does, Key Object Selection and private classes included) and a relay that
 * refuses what the PACS would take loses studies for nothing; a site can narrow it to a list.
 */
export const ANY_SOP_CLASS = '*';

export const IMAGE_SOP_CLASSES: ReadonlySet<string> = new Set(STORAGE_SOP_CLASSES.filter((c) => c.image).map((c) => c.uid));

/** A readable name for a SOP class UID, for rejection reasons and logs. */
export function sopClassName(uid: string): string | undefined {
  return STORAGE_SOP_CLASSES.find((c) => c.uid === uid)?.name;
}
