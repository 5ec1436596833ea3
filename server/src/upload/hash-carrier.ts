import type { TemporaryStorage } from '../storage/storage.js';
import { ResumableSha256 } from './resumable-sha256.js';
import type { UploadsRepository } from './uploads-repository.js';

/**
 * Carries each instance's SHA-256 from chunk to chunk, so that verifying an instance sent in order
 * reads none of its bytes again (instance-digest.ts). A chunk's record keeps the state after it
 * (bytes [0, its end)) when the chunk went on from its predecessor's state:
 * - as it is written, when its predecessor was recorded before it began (forChunk);
 * - else, once the chain reaches it (chunks sent in parallel overtake one another): advance() reads
 *   it back from storage, just written and so usually from the page cache, not at completion.
 * States survive a restart with the records, so the chain goes on where it stopped.
 */
export class HashCarrier {
  /** Per `${uploadId}/${index}`, the advance under way, and whether a chunk was recorded meanwhile. */
  private readonly advancing = new Map<string, { again: boolean; done: Promise<void> }>();

  constructor(
    private readonly storage: TemporaryStorage,
    private readonly repo: UploadsRepository,
    private readonly log: () => { info(obj: object, msg: string): void } | undefined,
  ) {}

  /**
   * The hash to feed the chunk at `offset` as it is written: a new one at offset 0, else the one its
   * predecessor's record carries. Undefined when there is none yet (advance() catches up later).
   */
  async forChunk(uploadId: string, index: number, offset: number): Promise<ResumableSha256 | undefined> {
    if (offset === 0) return ResumableSha256.start();
    const state = this.repo.hashStateEndingAt(uploadId, index, offset);
    return state ? ResumableSha256.start(state) : undefined;
  }

  /** After a chunk was recorded: carries the hash over the recorded chunks that follow the chain's end. */
  advance(uploadId: string, index: number): void {
    const key = `${uploadId}/${index}`;
    const running = this.advancing.get(key);
    if (running) {
      running.again = true;
      return;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      do {
        entry.again = false;
        await this.carryAlong(uploadId, index);
      } while (entry.again);
    })().catch((error: unknown) => {
      // Nothing is lost: verification reads what the chain does not cover (the upload may also
      // have been cancelled meanwhile, its data deleted).
      this.log()?.info({ uploadId, instance: index, code: (error as { code?: string }).code }, 'instance hash not carried forward; verification will read the rest');
    }).finally(() => this.advancing.delete(key));
    this.advancing.set(key, entry);
  }

  /** Waits for the instance's advance under way, if any (verification takes the furthest state after it). */
  async settled(uploadId: string, index: number): Promise<void> {
    await this.advancing.get(`${uploadId}/${index}`)?.done;
  }

  private async carryAlong(uploadId: string, index: number): Promise<void> {
    for (;;) {
      const carried = this.repo.furthestHashState(uploadId, index);
      if (!carried) return;
      const next = this.repo.chunkStartingAt(uploadId, index, carried.end);
      if (!next) return;
      const hash = await ResumableSha256.start(carried.state);
      if (!hash) return;
      try {
        for await (const bytes of this.storage.readRange(uploadId, index, [next], next.offset, next.offset + next.length) as AsyncIterable<Buffer>) hash.update(bytes);
        this.repo.setHashState(uploadId, index, next.offset, hash.save());
      } finally {
        hash.dispose();
      }
    }
  }
}
