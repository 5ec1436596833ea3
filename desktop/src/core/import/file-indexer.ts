import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { IndexedFile } from '../catalog/instances-repository.js';
import { sha256OfFile } from '../dicom/file-digest.js';
import { parseHeader, readInstanceHeader } from '../dicom/header-reader.js';
import { wrapWithFileMeta } from './file-meta-wrapping.js';
import type { CandidateFile, SkippedInput } from './import-source.js';
import { fileErrorReason } from '../file-error-reason.js';

/** Where bare data sets are made into Part 10 files, and the AE title they name as their source. */
export interface WrapOptions {
  wrappedDir: string;
  sourceAeTitle?: string;
}

/** Files up to this size are read once, then parsed and hashed from memory. */
const SMALL_FILE_BYTES = 1024 * 1024;

export type IndexResult = { ok: true; file: IndexedFile } | { ok: false; skipped: SkippedInput };

/**
 * Indexes one candidate: its header (without pixel data) and the SHA-256 of all its bytes. A slice
 * of a few hundred kilobytes is read once; a large multi-frame is read twice in bounded pieces (a
 * header prefix, then a streamed hash), so memory does not grow with the file.
 */
export async function indexFile(candidate: CandidateFile, wrap?: WrapOptions): Promise<IndexResult> {
  const indexed = await indexAsIs(candidate);
  if (!indexed.ok || !indexed.file.header.withoutFileMeta || !wrap) return indexed;
  // A bare data set: what is catalogued and sent is the Part 10 file made for it (its size, its
  // SHA-256: the manifest hash is of what is sent); the import review shows the original's name.
  try {
    const wrapped = await wrapWithFileMeta(candidate.path, indexed.file.header, wrap.wrappedDir, wrap.sourceAeTitle);
    return { ok: true, file: { ...indexed.file, ...wrapped } };
  } catch (error) {
    return { ok: false, skipped: { displayName: candidate.displayName, code: 'FILE_UNREADABLE', reason: `the DICOM file header could not be added (${fileErrorReason(error)})` } };
  }
}

async function indexAsIs(candidate: CandidateFile): Promise<IndexResult> {
  const skipped = (code: SkippedInput['code'], reason: string): IndexResult => ({ ok: false, skipped: { displayName: candidate.displayName, code, reason } });
  try {
    // One open for stat and read: at thousands of files a second, every system call shows.
    const handle = await open(candidate.path, 'r');
    let size: number;
    let bytes: Buffer | undefined;
    try {
      size = (await handle.stat()).size;
      if (size > 0 && size <= SMALL_FILE_BYTES) {
        bytes = Buffer.allocUnsafe(size);
        const { bytesRead } = await handle.read(bytes, 0, size, 0);
        bytes = bytes.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
    if (size === 0) return skipped('FILE_NOT_DICOM', 'the file is empty');
    if (bytes) {
      const parsed = await parseHeader(bytes);
      if (!parsed.ok) return skipped(parsed.code, parsed.reason);
      return { ok: true, file: { header: parsed.header, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), path: candidate.path, displayName: candidate.displayName } };
    }
    const parsed = await readInstanceHeader(candidate.path);
    if (!parsed.ok) return skipped(parsed.code, parsed.reason);
    const digest = await sha256OfFile(candidate.path);
    return { ok: true, file: { header: parsed.header, size: digest.size, sha256: digest.sha256, path: candidate.path, displayName: candidate.displayName } };
  } catch (error) {
    return skipped('FILE_UNREADABLE', fileErrorReason(error));
  }
}
