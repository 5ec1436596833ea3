/**
 * Claims on the byte ranges of an instance whose chunks are being received right now, shared by
 * every relay on the store, so two connections never write the same bytes at once, even when a
 * load balancer sends a client's retry to another relay while its first connection still hangs.
 *
 * A claim lives while its holder says its connection moves (touch, a heartbeat); one that went
 * silent for `staleMs` is removed by the next clashing claim, and its holder, at its next touch,
 * finds it gone and drops its writer. That is how a client's retry gets a range back from a
 * connection it gave up (on a lossy link the reset may never arrive), whichever relay holds it.
 *
 * Claims order writers; what makes bytes count is still the chunk's row (UploadsStore.recordChunk
 * refuses a chunk that overlaps a recorded one, whoever claimed what). A claim is not durable: lost
 * in a crash, its holder's connection is gone with it.
 */
export interface ChunkClaimsStore {
  /**
   * Claims [start, end) of instance `index` of `uploadId` for `holder` (a relay's name, for
   * diagnosis), answering the claim's id, or undefined when the range overlaps a live claim. Clashing
   * claims not touched for `staleMs` are removed in the same step (the caller still answers "busy":
   * the range is free for the client's retry, once the silent writer has been dropped).
   */
  claim(uploadId: string, index: number, range: readonly [start: number, end: number], holder: string, staleMs: number): Promise<string | undefined>;
  /** The holder's heartbeat: the claims in `moved` moved since the last touch; answers which of `held` still exist. */
  touch(moved: readonly string[], held: readonly string[]): Promise<Set<string>>;
  /** Ends a claim (the chunk was recorded, refused or failed); nothing if it is gone already. */
  release(id: string): Promise<void>;
  /** Removes claims not touched for `olderThanMs`: those of a relay that died with chunks in flight. Answers how many. */
  prune(olderThanMs: number): Promise<number>;
}
