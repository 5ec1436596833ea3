import { ResumableSha256 } from './resumable-sha256.js';
import type { UploadsStore } from '../store/uploads-store.js';

/**
 * Carries each instance's SHA-256 from chunk to chunk, so that verifying an instance sent in order
 * reads none of its bytes again (instance-digest.ts). A chunk's record keeps the state after it
 * (bytes [0, its end)) when the chunk went on from its predecessor's state, which happens when its
 * predecessor was recorded before it began. States survive a restart with the records, so the
 * chain goes on where it stopped.
 *
 * Chunks sent in parallel overtake one another and break the chain: the bytes after its end are
 * hashed at verification by reading them. They are not read back as the chain reaches them: with
 * hash-wasm about six times slower than Node's SHA-256 (which uses the CPU's SHA extensions), that
 * cost more than twice the upload time of a 1 GiB instance sent in 4 parallel chunks (see the
 * commit that removed it), where reading the rest once at verification costs about a second.
 */
export class HashCarrier {
  constructor(private readonly uploads: UploadsStore) {}

  /**
   * The hash to feed the chunk at `offset` as it is written: a new one at offset 0, else the one its
   * predecessor's record carries. Undefined when there is none (the predecessor is not recorded yet).
   */
  async forChunk(uploadId: string, index: number, offset: number): Promise<ResumableSha256 | undefined> {
    if (offset === 0) return ResumableSha256.start();
    const state = await this.uploads.hashStateEndingAt(uploadId, index, offset);
    return state ? ResumableSha256.start(state) : undefined;
  }
}
