/**
 * Claims on the byte ranges of an instance whose chunks are being received right now, shared by
 * every relay on the store, so two connections never write the same bytes at once, even when a
 * load balancer sends a client's retry to another relay while its first connection still hangs.
 *
 * A claim lives while its holder says its connection moves (touch, a heartbeat); one that went
 * silent for `staleMs` is marked superseded by the next clashing claim, and its holder, at its next
 * touch, learns so and drops its writer. That is how a client's retry gets a range back from a
 * connection it gave up (on a lossy link the reset may never arrive), whichever relay holds it.
 * A claim that is merely missing (PostgreSQL empties the UNLOGGED table when it recovers from a
 * crash, and a promoted standby has none) is not superseded: its holder restores it and goes on.
 *
 * Claims order writers; what makes bytes count is still the chunk's row (UploadsStore.recordChunk
 * refuses a chunk that overlaps a recorded one, whoever claimed what).
 */
export interface HeldClaim {
  id: string;
  uploadId: string;
  index: number;
  range: readonly [start: number, end: number];
  holder: string;
}

export interface ChunkClaimsStore {
  /**
   * Claims [start, end) of instance `index` of `uploadId` for `holder` (a relay's name, for
   * diagnosis), answering the claim's id, or undefined when the range overlaps a live claim (one not
   * superseded). Clashing claims not touched for `staleMs` are marked superseded in the same step
   * (the caller still answers "busy": the range is free for the client's retry, once the silent
   * writer has been dropped). Two claims racing for one range are never both granted; both may be
   * refused (the clients retry).
   */
  claim(uploadId: string, index: number, range: readonly [start: number, end: number], holder: string, staleMs: number): Promise<string | undefined>;
  /**
   * The holder's heartbeat: the claims in `moved` moved since the last touch. Answers which of
   * `held` were superseded (their writers must stop) and which are missing (to restore).
   */
  touch(moved: readonly string[], held: readonly string[]): Promise<{ superseded: Set<string>; missing: Set<string> }>;
  /** Puts back claims the store lost (not superseded ones: those are still there, marked), as granted before. */
  restore(claims: readonly HeldClaim[]): Promise<void>;
  /** Ends a claim, superseded or not (the chunk was recorded, refused or failed); nothing if it is gone already. */
  release(id: string): Promise<void>;
  /** Removes claims not touched for `olderThanMs`: those of a relay that died with chunks in flight. Answers how many. */
  prune(olderThanMs: number): Promise<number>;
}
