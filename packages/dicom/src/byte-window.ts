import { EMPTY, type ByteSource } from './byte-source.js';

/** Read-ahead after a skip: element values (pixel data, PDFs, overlays) are jumped over, not read. */
const JUMP_FETCH_BYTES = 4 * 1024;

/**
 * A forward-moving window over a ByteSource. The header walk asks for a few bytes at a time (an
 * element header, a UID); the window fetches ahead in growing reads (the first one, then doubling
 * while the walk stays contiguous, up to `maxFetch`) and starts small again after the walk skips
 * a value. Only the current window is held, so memory stays at `maxFetch` whatever the file size.
 */
export class ByteWindow {
  private window: Buffer = EMPTY;
  private start = 0;
  private lastFetch = 0;

  constructor(
    private readonly source: ByteSource,
    private readonly firstFetch: number,
    private readonly maxFetch: number,
  ) {}

  /** The source's total length, when known. */
  get length(): number | undefined {
    return this.source.length;
  }

  /** Up to `n` bytes at `offset`; fewer only where the source ends. */
  async peek(offset: number, n: number): Promise<Buffer> {
    return this.cached(offset, n) ?? this.fetch(offset, n);
  }

  /** What `peek` would return, if the window already holds it: the walk's fast path, without a promise. */
  cached(offset: number, n: number): Buffer | undefined {
    const end = offset + n;
    const windowEnd = this.start + this.window.length;
    if (offset >= this.start && (end <= windowEnd || windowEnd === this.source.length)) {
      return offset >= windowEnd ? EMPTY : this.window.subarray(offset - this.start, Math.min(end, windowEnd) - this.start);
    }
    return undefined;
  }

  private async fetch(offset: number, n: number): Promise<Buffer> {
    const end = offset + n;
    const windowEnd = this.start + this.window.length;
    const contiguous = this.lastFetch > 0 && offset >= this.start && offset <= windowEnd;
    const fetch = this.lastFetch === 0 ? this.firstFetch : contiguous ? Math.min(this.lastFetch * 2, this.maxFetch) : JUMP_FETCH_BYTES;
    this.lastFetch = fetch;
    this.window = await this.source.read(offset, end, offset + Math.max(n, fetch));
    this.start = offset;
    return this.window.subarray(0, Math.min(n, this.window.length));
  }
}
