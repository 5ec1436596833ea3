/** Half-open byte range [start, end). */
export type ByteRange = readonly [start: number, end: number];

/**
 * Bookkeeping of which bytes of an instance the relay holds. Chunks may arrive in any order, so
 * what is held is a set of ranges; the client resumes from `missing`, and `contiguousEnd` is the
 * classic single resume offset (tus Upload-Offset) for clients that send in order.
 */
export class ByteRangeSet {
  private readonly ranges: [number, number][] = [];

  constructor(ranges: Iterable<ByteRange> = []) {
    for (const [start, end] of ranges) this.add(start, end);
  }

  add(start: number, end: number): void {
    if (end <= start) return;
    this.ranges.push([start, end]);
    this.ranges.sort((a, b) => a[0] - b[0]);
    // merge touching or overlapping ranges
    const merged: [number, number][] = [];
    for (const range of this.ranges) {
      const last = merged.at(-1);
      if (last && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
      else merged.push([range[0], range[1]]);
    }
    this.ranges.splice(0, this.ranges.length, ...merged);
  }

  overlaps(start: number, end: number): boolean {
    return this.ranges.some(([s, e]) => start < e && s < end);
  }

  get total(): number {
    return this.ranges.reduce((sum, [s, e]) => sum + (e - s), 0);
  }

  /** End of the run of held bytes that starts at 0. */
  get contiguousEnd(): number {
    const first = this.ranges[0];
    return first && first[0] === 0 ? first[1] : 0;
  }

  /** The gaps within [0, size). */
  missing(size: number): ByteRange[] {
    const gaps: ByteRange[] = [];
    let cursor = 0;
    for (const [s, e] of this.ranges) {
      if (s > cursor) gaps.push([cursor, Math.min(s, size)]);
      cursor = Math.max(cursor, e);
    }
    if (cursor < size) gaps.push([cursor, size]);
    return gaps;
  }
}
