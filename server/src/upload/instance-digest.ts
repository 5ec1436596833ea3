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
 * The largest share of an instance left after the carried hash that is hashed by resuming it. The
 * only resumable SHA-256 (hash-wasm) hashes about six times slower than Node's, which uses the
 * CPU's SHA extensions (249 against 1,606 MiB/s measured on the relay's CI machine): past this share,
 * hashing every byte with Node's is quicker, even though it reads more.
 */
const RESUME_WHEN_REST_AT_MOST = 1 / 6;

/**
 * SHA-256 (hex) of an instance's `size` bytes, reading as little as pays: none when one piece holds
 * the whole instance (its digest is the instance's) or when the hash carried from chunk to chunk
 * reached the end; only the bytes after the carried hash's end when they are few; else all of them.
 * Reads go through the storage's reused buffer (feedRange), over the recorded pieces.
 */
export async function instanceSha256(
  storage: TemporaryStorage, uploadId: string, index: number, size: number, pieces: readonly RecordedPiece[], carried?: CarriedHash,
): Promise<string> {
  const only = pieces.length === 1 ? pieces[0]! : undefined;
  if (only && only.offset === 0 && only.length === size) return only.sha256;
  const worthResuming = carried !== undefined && carried.end <= size && size - carried.end <= size * RESUME_WHEN_REST_AT_MOST;
  const resumed = worthResuming ? await ResumableSha256.start(carried.state) : undefined;
  try {
    const hash = resumed ?? hexSha256();
    const from = resumed ? carried!.end : 0;
    if (from < size) await storage.feedRange(uploadId, index, pieces, from, size, hash);
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
