import { createSHA256, type IHasher } from 'hash-wasm';

/** Idle hashers kept for reuse: each is a WebAssembly instance, cheap to reset, dearer to create. */
const KEPT = 16;
const idle: IHasher[] = [];

/**
 * SHA-256 (FIPS 180-4) whose state can be saved and resumed later, in another process: an
 * instance's hash is carried from chunk to chunk (each chunk's record keeps the state after it),
 * so a relay restarted mid-upload goes on from the last recorded chunk. Node's crypto cannot export
 * a hash's state; hash-wasm can. A saved state holds the partial block not yet compressed (up to
 * 63 bytes of the instance): it is kept only until the instance is verified.
 */
export class ResumableSha256 {
  private constructor(private hasher: IHasher | undefined) {}

  /**
   * A hash of nothing yet, or one resumed from `state` (saved by save()). Undefined when the state
   * cannot be loaded (saved by an incompatible build of hash-wasm): the caller hashes from the start.
   */
  static async start(state?: Uint8Array): Promise<ResumableSha256 | undefined> {
    const hasher = idle.pop() ?? await createSHA256();
    try {
      if (state) hasher.load(state);
      else hasher.init();
    } catch {
      hasher.init();
      release(hasher);
      return undefined;
    }
    return new ResumableSha256(hasher);
  }

  update(bytes: Uint8Array): void {
    this.live().update(bytes);
  }

  /** The state after the bytes so far, for start(state). */
  save(): Uint8Array {
    return this.live().save();
  }

  /** The digest (hex) of the bytes so far; the hash is done with (dispose() is implied). */
  digest(): string {
    const digest = this.live().digest('hex');
    this.dispose();
    return digest;
  }

  /** Gives the hasher back for reuse. Idempotent. */
  dispose(): void {
    if (!this.hasher) return;
    release(this.hasher);
    this.hasher = undefined;
  }

  private live(): IHasher {
    if (!this.hasher) throw new Error('this SHA-256 was already disposed of');
    return this.hasher;
  }
}

function release(hasher: IHasher): void {
  if (idle.length < KEPT) idle.push(hasher);
}
