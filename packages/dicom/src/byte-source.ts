import { DicomReadError, ByteReadFailure } from './read-problem.js';

/** Bytes [start, end) of the stored instance. The relay's storage sits behind this; tests adapt a file or a Buffer. */
export type HeaderReader = (start: number, end: number) => Promise<Buffer>;

/**
 * A forward-only source of bytes: the stored file itself, or the inflated data set of a deflated
 * transfer syntax. The header walk never goes back, so a source may drop what lies before `start`.
 */
export interface ByteSource {
  /** Total length once known: always for stored bytes, for an inflated stream once it has ended. */
  readonly length: number | undefined;
  /**
   * Bytes from `start`: at least up to `needEnd` unless the source ends first, at most up to
   * `wantEnd` (a larger read saves round trips). `start` never decreases between calls.
   */
  read(start: number, needEnd: number, wantEnd: number): Promise<Buffer>;
}

export const EMPTY = Buffer.alloc(0);

const MiB = 1024 * 1024;

/**
 * Caps how many bytes one validation may read (or inflate): a header that needs more is rejected
 * as HEADER_TOO_LARGE instead of costing unbounded time, memory or I/O. Charged before the read.
 */
export class ReadBudget {
  private spent = 0;

  constructor(readonly limit: number) {}

  get remaining(): number {
    return Math.max(0, this.limit - this.spent);
  }

  charge(bytes: number): void {
    this.spent += bytes;
    if (this.spent > this.limit) {
      const limit = this.limit >= MiB ? `${Math.round(this.limit / MiB)} MiB` : `${this.limit} bytes`;
      throw new DicomReadError('HEADER_TOO_LARGE', `more than ${limit} had to be read without reaching the pixel data or the end of the data set`);
    }
  }
}

/** The stored instance from byte `base` on, read through the caller's HeaderReader. */
export class StoredBytes implements ByteSource {
  constructor(
    private readonly readHeader: HeaderReader,
    private readonly base: number,
    readonly length: number,
    private readonly budget: ReadBudget,
  ) {}

  async read(start: number, needEnd: number, wantEnd: number): Promise<Buffer> {
    // Read ahead only as far as the budget allows, so a small budget is never overshot by read-ahead.
    const end = Math.min(this.length, Math.max(needEnd, Math.min(wantEnd, start + this.budget.remaining)));
    if (end <= start) return EMPTY;
    this.budget.charge(end - start);
    let bytes: Uint8Array;
    try {
      bytes = await this.readHeader(this.base + start, this.base + end);
    } catch (error) {
      throw new ByteReadFailure(error);
    }
    if (!(bytes instanceof Uint8Array) || bytes.byteLength !== end - start) {
      // The storage broke its contract (e.g. the file is shorter than its recorded size): an I/O fault, not a bad instance.
      throw new ByteReadFailure(new Error(`the header reader returned ${bytes instanceof Uint8Array ? bytes.byteLength : 'no'} bytes for a range of ${end - start}`));
    }
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}
