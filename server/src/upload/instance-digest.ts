import { createHash } from 'node:crypto';
import type { PieceRange, TemporaryStorage } from '../storage/storage.js';
import { ResumableSha256 } from './resumable-sha256.js';

/** A recorded piece (chunk) of an instance, with the SHA-256 of its bytes (hex). */
export interface RecordedPiece extends PieceRange {
  sha256: string;
}

/** The instance's SHA-256 state after its bytes [0, end), as carried while its chunks arrived. */
export interface CarriedHash {
  end: number;
  state: Uint8Array;
}

/**
 * SHA-256 (hex) of an instance's `size` bytes, reading as little as it can: none when one piece
 * holds the whole instance (its digest is the instance's) or when the hash carried from chunk to
 * chunk reached the end; else the bytes after the carried hash's end (all of them without one),
 * streamed from storage over the recorded pieces.
 */
export async function instanceSha256(
  storage: TemporaryStorage, uploadId: string, index: number, size: number, pieces: readonly RecordedPiece[], carried?: CarriedHash,
): Promise<string> {
  const only = pieces.length === 1 ? pieces[0]! : undefined;
  if (only && only.offset === 0 && only.length === size) return only.sha256;
  const resumed = carried && carried.end <= size ? await ResumableSha256.start(carried.state) : undefined;
  try {
    const hash = resumed ?? hexSha256();
    const from = resumed ? carried!.end : 0;
    if (from < size) {
      for await (const chunk of storage.readRange(uploadId, index, pieces, from, size) as AsyncIterable<Buffer>) hash.update(chunk);
    }
    return hash.digest();
  } finally {
    resumed?.dispose();
  }
}

/** Node's SHA-256 (faster than hash-wasm's) for a hash that has nothing to resume. */
function hexSha256(): { update(bytes: Uint8Array): unknown; digest(): string } {
  const hash = createHash('sha256');
  return { update: (bytes) => hash.update(bytes), digest: () => hash.digest('hex') };
}
