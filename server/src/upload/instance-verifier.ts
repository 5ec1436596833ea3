import { validatePart10 } from '../dicom/part10-validator.js';
import type { InstanceRejectionCode } from '../protocol/error-codes.js';
import type { TemporaryStorage } from '../storage/storage.js';
import { instanceSha256, type CarriedHash, type RecordedPiece } from './instance-digest.js';

export type VerificationOutcome =
  | { ok: true; transferSyntaxUid: string; accessionNumber?: string }
  | { ok: false; code: InstanceRejectionCode; reason: string };

export interface InstanceToVerify {
  uploadId: string;
  index: number;
  size: number;
  sha256: string;
  studyInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  /** The recorded pieces (chunks), which together hold every byte: reads go through them only. */
  pieces: readonly RecordedPiece[];
  /** The SHA-256 state carried while the chunks arrived, furthest first: only the bytes after it are read. */
  carriedHash?: CarriedHash | undefined;
  /** The instance's first bytes, kept as they were written: header reads within them need no storage read. */
  head?: Buffer | undefined;
}

/**
 * Checks a fully received instance: the SHA-256 of every byte against the manifest, then the DICOM
 * header against what the upload declared. Reads the data as a stream (and only what the hashes
 * carried from chunk to chunk do not cover: instanceSha256), so a 4 GB instance costs the same
 * memory as a small one.
 */
export class InstanceVerifier {
  constructor(private readonly storage: TemporaryStorage, private readonly allowedSopClasses: ReadonlySet<string>) {}

  async verify(instance: InstanceToVerify): Promise<VerificationOutcome> {
    const received = await instanceSha256(this.storage, instance.uploadId, instance.index, instance.size, instance.pieces, instance.carriedHash);
    if (received !== instance.sha256) {
      return { ok: false, code: 'CHECKSUM_MISMATCH', reason: 'the received bytes do not match the SHA-256 in the manifest' };
    }
    const result = await validatePart10((start, end) => this.readBytes(instance, start, end), instance.size, {
      studyInstanceUid: instance.studyInstanceUid,
      sopInstanceUid: instance.sopInstanceUid,
      sopClassUid: instance.sopClassUid,
      allowedSopClasses: this.allowedSopClasses,
    });
    if (!result.ok) return { ok: false, code: result.code, reason: result.reason };
    return { ok: true, transferSyntaxUid: result.transferSyntaxUid, ...(result.accessionNumber ? { accessionNumber: result.accessionNumber } : {}) };
  }

  private async readBytes(instance: InstanceToVerify, start: number, end: number): Promise<Buffer> {
    const clampedEnd = Math.min(end, instance.size);
    if (clampedEnd <= start) return Buffer.alloc(0);
    if (instance.head && clampedEnd <= instance.head.length) return instance.head.subarray(start, clampedEnd);
    const parts: Buffer[] = [];
    for await (const chunk of this.storage.readRange(instance.uploadId, instance.index, instance.pieces, start, clampedEnd) as AsyncIterable<Buffer>) parts.push(chunk);
    return Buffer.concat(parts);
  }
}
