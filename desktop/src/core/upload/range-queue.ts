/** Bytes [start, end) of one instance of an upload. */
export interface ByteRange {
  index: number;
  start: number;
  end: number;
}

/**
 * The byte ranges still to send, in order, each cut to the chunk size of the moment when taken. A
 * piece that was not stored is given back: to the end of the queue, so the rest goes on meanwhile
 * (the relay may still be dropping the connection that carried it), and not before `readyAt`.
 */
export class RangeQueue {
  private readonly ranges: (ByteRange & { readyAt: number })[];

  constructor(ranges: readonly ByteRange[]) {
    this.ranges = ranges.filter((r) => r.end > r.start).map((r) => ({ ...r, readyAt: 0 }));
  }

  /** Ranges left, ready or waiting. */
  get size(): number {
    return this.ranges.length;
  }

  /** The first range ready at `now`, cut to `maxLength` bytes (the rest stays first in line); undefined when none is ready. */
  take(maxLength: number, now: number): ByteRange | undefined {
    const at = this.ranges.findIndex((r) => r.readyAt <= now);
    if (at < 0) return undefined;
    const range = this.ranges[at]!;
    const end = Math.min(range.end, range.start + Math.max(1, Math.floor(maxLength)));
    const piece = { index: range.index, start: range.start, end };
    if (end < range.end) range.start = end;
    else this.ranges.splice(at, 1);
    return piece;
  }

  /** A piece to send again after the others, not before `readyAt`. */
  giveBack(piece: ByteRange, readyAt = 0): void {
    this.ranges.push({ ...piece, readyAt });
  }

  /** A piece to send again first (cut smaller: the relay refused its size). */
  retryFirst(piece: ByteRange): void {
    this.ranges.unshift({ ...piece, readyAt: 0 });
  }

  /** When the next waiting range becomes ready, if none is ready at `now`; undefined when one is, or none is left. */
  nextReadyAt(now: number): number | undefined {
    if (this.ranges.length === 0 || this.ranges.some((r) => r.readyAt <= now)) return undefined;
    return Math.min(...this.ranges.map((r) => r.readyAt));
  }
}
