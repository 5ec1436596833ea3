/**
 * How a transfer syntax lays out the data set that follows the file meta header (PS3.5 §10 and
 * Annex A). The validator needs four facts: whether VRs are explicit, the byte order, whether the
 * data set is deflated, and how Pixel Data is encoded.
 */
export interface DataSetEncoding {
  explicitVr: boolean;
  littleEndian: boolean;
  /** The whole data set after the meta header is a raw deflate stream (PS3.5 Annex A.5). */
  deflated: boolean;
  /**
   * 'native': Pixel Data has a defined length; 'encapsulated': Pixel Data has an undefined length
   * and holds fragments (PS3.5 Annex A.4); 'referenced': no Pixel Data, the pixels are fetched by
   * JPIP (PS3.5 Annex A.6, A.7); 'unknown': a syntax this relay does not know.
   */
  pixelData: 'native' | 'encapsulated' | 'referenced' | 'unknown';
}

export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';
export const EXPLICIT_VR_BIG_ENDIAN = '1.2.840.10008.1.2.2';

/** Implicit VR little endian: also the encoding inside a UN element of undefined length (PS3.5 §6.2.2). */
export const IMPLICIT_LE: DataSetEncoding = { explicitVr: false, littleEndian: true, deflated: false, pixelData: 'native' };
const EXPLICIT_LE: DataSetEncoding = { explicitVr: true, littleEndian: true, deflated: false, pixelData: 'native' };

const KNOWN: ReadonlyMap<string, DataSetEncoding> = new Map([
  [IMPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_LE],
  [EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_LE],
  // Encapsulated Uncompressed Explicit VR Little Endian (PS3.5 Annex A.4).
  ['1.2.840.10008.1.2.1.98', { ...EXPLICIT_LE, pixelData: 'encapsulated' }],
  [DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, { ...EXPLICIT_LE, deflated: true }],
  // Retired, yet still written by older modalities (PS3.5 Annex A.3).
  [EXPLICIT_VR_BIG_ENDIAN, { ...EXPLICIT_LE, littleEndian: false }],
  // JPIP Referenced and JPIP Referenced Deflate: Pixel Data Provider URL instead of pixels (PS3.5 Annex A.6, A.7).
  ['1.2.840.10008.1.2.4.94', { ...EXPLICIT_LE, pixelData: 'referenced' }],
  ['1.2.840.10008.1.2.4.95', { ...EXPLICIT_LE, deflated: true, pixelData: 'referenced' }],
  // RLE Lossless and Deflated Image Frame Compression (PS3.5 Annex A.4).
  ['1.2.840.10008.1.2.5', { ...EXPLICIT_LE, pixelData: 'encapsulated' }],
  ['1.2.840.10008.1.2.8.1', { ...EXPLICIT_LE, pixelData: 'encapsulated' }],
]);

/** JPEG, JPEG-LS, JPEG 2000, HTJ2K, JPEG XL, MPEG and HEVC syntaxes all live under this root (PS3.6 Table A-1). */
const COMPRESSED_ROOT = '1.2.840.10008.1.2.4.';

/**
 * Every transfer syntax other than the native ones uses explicit VR little endian for the data set
 * (PS3.5 Annex A.4), so an unknown (e.g. private or newer) syntax is parsed that way; if it is not,
 * the walk fails and the instance is rejected as malformed.
 */
export function dataSetEncoding(transferSyntaxUid: string): DataSetEncoding {
  const known = KNOWN.get(transferSyntaxUid);
  if (known) return known;
  if (transferSyntaxUid.startsWith(COMPRESSED_ROOT)) return { ...EXPLICIT_LE, pixelData: 'encapsulated' };
  return { ...EXPLICIT_LE, pixelData: 'unknown' };
}
