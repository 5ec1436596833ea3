import type { Readable } from 'node:stream';
import type { ByteRange } from './byte-ranges.js';

/** A chunk being received: its range, and the connection it comes over, to tell a live writer from a dead one. */
export interface ChunkWriter {
  readonly range: ByteRange;
  readonly body: Readable;
  bytesRead: number;
  movedAt: number;
}

export interface ChunkWritersOptions {
  /**
   * A chunk being written whose connection has moved no byte for this long is dropped when another
   * connection asks for its range (its client gave it up and sends the range again). Default 2 s.
   */
  staleWriterMs?: number;
  /** Says a writer was dropped (ranges only: upload ids and offsets, never PHI). */
  onDropped?: (range: ByteRange) => void;
}

/**
 * The byte ranges of one relay's chunks being written right now, per instance: overlapping
 * concurrent chunks are refused, and a writer whose connection went silent is dropped when its range
 * is sent again. While any chunk is arriving, a watchdog notes twice a second which connections moved.
 */
export class ChunkWriters {
  private readonly inFlight = new Map<string, ChunkWriter[]>();
  private watchdog: NodeJS.Timeout | undefined;

  constructor(private readonly options: ChunkWritersOptions = {}) {}

  /**
   * Reserves [start, end) of the instance `key` for `body`, or answers undefined when it overlaps a
   * chunk being written. A clashing writer whose connection moved no byte for staleWriterMs is
   * dropped (its body destroyed), so the range is free for the client's retry: on a lossy link a
   * client gives up a stuck connection, and its reset may be lost on the way.
   */
  reserve(key: string, [start, end]: ByteRange, body: Readable): ChunkWriter | undefined {
    const writing = this.inFlight.get(key) ?? [];
    const clashing = writing.filter(({ range: [s, e] }) => start < e && s < end);
    if (clashing.length > 0) {
      for (const writer of clashing) this.dropIfStale(writer);
      return undefined;
    }
    const writer: ChunkWriter = { range: [start, end], body, bytesRead: bytesReadOf(body), movedAt: performance.now() };
    writing.push(writer);
    this.inFlight.set(key, writing);
    this.watch();
    return writer;
  }

  release(key: string, writer: ChunkWriter): void {
    const remaining = (this.inFlight.get(key) ?? []).filter((w) => w !== writer);
    if (remaining.length > 0) this.inFlight.set(key, remaining);
    else this.inFlight.delete(key);
  }

  close(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  private dropIfStale(writer: ChunkWriter): void {
    const now = performance.now();
    if (noteMovement(writer, now) || now - writer.movedAt < (this.options.staleWriterMs ?? 2_000)) return;
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
    }, 500);
    this.watchdog.unref();
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
  return true;
}
