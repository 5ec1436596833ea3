import type { ErrorCode } from '../../../common/error-codes.js';

/**
 * Why a photo could not become a Secondary Capture image: a damaged or truncated file, a format or
 * JPEG process this import does not handle, or attributes that would make an invalid object. The
 * caller turns it into a skipped item; `reason` names the problem in words and never holds PHI
 * (no attribute values, only which attribute is wrong).
 */
export class PhotoConversionError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'PhotoConversionError';
  }
}

/** The file is damaged: its structure or compressed data does not decode. */
export const damaged = (reason: string) => new PhotoConversionError('PHOTO_UNSUPPORTED', reason);
/** The file ends before the image does. */
export const truncated = (reason: string) => new PhotoConversionError('FILE_TRUNCATED', reason);
/** A well-formed file this import does not convert (HEIC, GIF, lossless JPEG, ...). */
export const unsupported = (reason: string) => new PhotoConversionError('PHOTO_UNSUPPORTED', reason);

/**
 * A decoder's complaint in words fit for a reason: its own messages ("invalid huffman sequence")
 * are kept, but a JavaScript TypeError or RangeError from inside it (a table the data refers to
 * is missing) says nothing useful, so it becomes a plain statement.
 */
export function decoderComplaint(error: unknown): string {
  if (error instanceof TypeError || error instanceof RangeError || !(error instanceof Error)) return 'its coded data is inconsistent';
  return error.message;
}
