import type { Readable } from 'node:stream';
import type { ChunkClaimsStore } from '../store/chunk-claims-store.js';
import type { ByteRange } from './byte-ranges.js';

/** A chunk being received: its range, its claim, and the connection it comes over, to tell a live writer from a dead one. */
export interface ChunkWriter {
  readonly key: string;
  readonly uploadId: string;
  readonly index: number;
  readonly range: ByteRange;
  readonly body: Readable;
  bytesRead: number;
  movedAt: number;
  /** Its claim in the store, once granted. */
  claim?: string;
  /** Whether its connection moved since the claim was last touched. */
  movedSinceTouch: boolean;
}

export interface ChunkWritersOptions {
  /** Where the claims live: shared by every relay on the store (PostgreSQL), or this process's own (SQLite). */
  claims: ChunkClaimsStore;
  /** This relay's name, written with its claims (diagnosis only). */
  holder: string;
  /**
   * A chunk being written whose connection has moved no byte for this long is dropped when another
   * connection asks for its range (its client gave it up and sends the range again). Default 2 s.
   */
  staleWriterMs?: number;
  /** Says a writer was dropped (ranges only: upload ids and offsets, never PHI). */
  onDropped?: (range: ByteRange) => void;
}

/** How often the watchdog notes which connections moved, and touches their claims. */
const WATCH_MS = 500;

/**
 * The chunks being written, per instance: overlapping concurrent chunks are refused, and a writer
 * whose connection went silent is dropped when its range is sent again, whichever relay the retry
 * reaches.
 *
 * Two layers. This relay's writers are checked here first, synchronously, so a silent one is
 * dropped at once (as before there were several relays). Then the range is claimed in the store
 * (ChunkClaimsStore), where a claim of another relay may clash; such a claim that went stale is
 * marked superseded by the store, and its holder's watchdog, touching its claims every WATCH_MS,
 * learns so and drops its writer; a claim the store lost is put back. While any chunk is arriving, the watchdog notes which connections moved.
 */
export class ChunkWriters {
  private readonly inFlight = new Map<string, ChunkWriter[]>();
  private watchdog: NodeJS.Timeout | undefined;
  private touching = false;

  constructor(private readonly options: ChunkWritersOptions) {}

  /**
   * Reserves [start, end) of instance `index` of `uploadId` for `body`, or answers undefined when it
   * overlaps a chunk being written, here or on another relay. A clashing writer whose connection
   * moved no byte for staleWriterMs is dropped (its body destroyed), so the range is free for the
   * client's retry: on a lossy link a client gives up a stuck connection, and its reset may be lost
   * on the way.
   */
  async reserve(uploadId: string, index: number, [start, end]: ByteRange, body: Readable): Promise<ChunkWriter | undefined> {
    const key = `${uploadId}/${index}`;
    const writing = this.inFlight.get(key) ?? [];
    const clashing = writing.filter(({ range: [s, e] }) => start < e && s < end);
    if (clashing.length > 0) {
      for (const writer of clashing) this.dropIfStale(writer);
      return undefined;
    }
    // Held here before the store is asked, so a second request of this relay meanwhile clashes here.
    const writer: ChunkWriter = { key, uploadId, index, range: [start, end], body, bytesRead: bytesReadOf(body), movedAt: performance.now(), movedSinceTouch: false };
    writing.push(writer);
    this.inFlight.set(key, writing);
    let claim: string | undefined;
    try {
      claim = await this.options.claims.claim(uploadId, index, [start, end], this.options.holder, this.staleWriterMs);
    } finally {
      if (claim === undefined) this.forget(writer);
    }
    if (claim === undefined) return undefined;
    writer.claim = claim;
    this.watch();
    return writer;
  }

  async release(writer: ChunkWriter): Promise<void> {
    this.forget(writer);
    // A claim the store could not remove (the database is away) goes stale and is removed by the
    // next clashing claim, or by prune.
    if (writer.claim !== undefined) await this.options.claims.release(writer.claim).catch(() => {});
  }

  close(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  private get staleWriterMs(): number {
    return this.options.staleWriterMs ?? 2_000;
  }

  private forget(writer: ChunkWriter): void {
    const remaining = (this.inFlight.get(writer.key) ?? []).filter((w) => w !== writer);
    if (remaining.length > 0) this.inFlight.set(writer.key, remaining);
    else this.inFlight.delete(writer.key);
  }

  private isWriting(writer: ChunkWriter): boolean {
    return (this.inFlight.get(writer.key) ?? []).includes(writer) && !writer.body.destroyed;
  }

  private dropIfStale(writer: ChunkWriter): void {
    const now = performance.now();
    if (noteMovement(writer, now) || now - writer.movedAt < this.staleWriterMs) return;
    this.drop(writer);
  }

  private drop(writer: ChunkWriter): void {
    this.options.onDropped?.(writer.range);
    writer.body.destroy(new Error('chunk connection superseded'));
  }

  private watch(): void {
    if (this.watchdog) return;
    this.watchdog = setInterval(() => {
      if (this.inFlight.size === 0) {
        this.close();
        return;
      }
      const now = performance.now();
      for (const writers of this.inFlight.values()) for (const writer of writers) noteMovement(writer, now);
      void this.touchClaims();
    }, WATCH_MS);
    this.watchdog.unref();
  }

  /**
   * Tells the store which claims moved, drops the writers whose claim another relay marked
   * superseded, and restores the claims the store lost (the database's claims table emptied by its
   * crash recovery or a failover), so healthy connections go on.
   */
  private async touchClaims(): Promise<void> {
    if (this.touching) return;
    const writers = [...this.inFlight.values()].flat().filter((w) => w.claim !== undefined);
    if (writers.length === 0) return;
    this.touching = true;
    const moved = writers.filter((w) => w.movedSinceTouch);
    for (const writer of moved) writer.movedSinceTouch = false;
    try {
      const { superseded, missing } = await this.options.claims.touch(moved.map((w) => w.claim!), writers.map((w) => w.claim!));
      // A writer released meanwhile is done: what the store says of its claim no longer matters.
      for (const writer of writers) if (superseded.has(writer.claim!) && this.isWriting(writer)) this.drop(writer);
      const lost = writers.filter((w) => missing.has(w.claim!) && this.isWriting(w));
      if (lost.length > 0) {
        await this.options.claims.restore(lost.map((w) => ({ id: w.claim!, uploadId: w.uploadId, index: w.index, range: w.range, holder: this.options.holder })));
        // Released while being restored: its release may have run first, so it goes again.
        for (const writer of lost) if (!this.isWriting(writer)) await this.options.claims.release(writer.claim!);
      }
    } catch {
      // The store did not answer: nothing is known, nothing is dropped; the movement seen is told
      // at the next tick.
      for (const writer of moved) writer.movedSinceTouch = true;
    } finally {
      this.touching = false;
    }
  }
}

/** Bytes received so far on the connection a request body comes over (0 for a body with no socket). */
function bytesReadOf(body: Readable): number {
  return (body as Readable & { socket?: { bytesRead?: number } }).socket?.bytesRead ?? 0;
}

/** Whether the writer's connection received bytes since last noted (and notes when). */
function noteMovement(writer: ChunkWriter, now: number): boolean {
  const read = bytesReadOf(writer.body);
  if (read === writer.bytesRead) return false;
  writer.bytesRead = read;
  writer.movedAt = now;
  writer.movedSinceTouch = true;
  return true;
}
