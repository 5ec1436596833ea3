import type { ErrorCode } from '../../common/error-codes.js';

/**
 * What every import source (folder, ZIP, DICOMDIR, photo) produces: files to index, and inputs it
 * could not use with the reason. Sources never throw for bad input; one bad file or entry becomes
 * a `skipped` item and the rest of the batch goes on.
 */
export interface CandidateFile {
  /** A readable file on disk: the original, or a copy the source made in the app's temp area. */
  path: string;
  /** What to show the user: the original path, or `archive.zip › folder/file` for an archive entry. */
  displayName: string;
}

export interface SkippedInput {
  displayName: string;
  /** The stable error code from common/error-codes.ts (e.g. FILE_NOT_DICOM, ARCHIVE_REFUSED). */
  code: ErrorCode;
  /** What exactly was wrong, in words: "zip entry escapes the archive folder (../../etc/passwd)". No PHI. */
  reason: string;
}

export type SourceItem =
  | { kind: 'file'; file: CandidateFile }
  | { kind: 'skipped'; skipped: SkippedInput };

export type ImportSource = AsyncIterable<SourceItem>;
