import { formatBytes, type ZipLimits } from './zip-limits.js';

/** The sizes an entry's central directory record claims. Written by whoever made the archive. */
export interface DeclaredSizes {
  compressedSize: number;
  uncompressedSize: number;
}

/**
 * The running count of decompressed bytes for one archive, and the judge of every cap. A verdict
 * is a reason (words, no PHI) when a cap is crossed, or null.
 *
 * The declared sizes are used for one thing only: to refuse early what an entry's own header
 * admits it would unpack to, so an honest zip bomb is refused before a byte is inflated. They are
 * never trusted to allow anything: every decompressed chunk is counted as it streams, an entry that
 * produces more than it declared is refused on the spot, and the caps are judged again on the real
 * counts.
 */
export class ExpansionBudget {
  private unpackedBytes = 0;

  constructor(
    private readonly limits: ZipLimits,
    /** The archive file's size: the denominator of the whole-archive ratio. */
    private readonly archiveBytes: number,
  ) {}

  get totalBytes(): number {
    return this.unpackedBytes;
  }

  /** Before unpacking an entry: would its declared size alone cross a cap? */
  admit(declared: DeclaredSizes): string | null {
    return this.judge(declared.uncompressedSize, declared.compressedSize, this.unpackedBytes + declared.uncompressedSize);
  }

  /** Starts counting the real output of one entry. */
  tally(declared: DeclaredSizes): EntryTally {
    return new EntryTally(declared, (bytes) => {
      this.unpackedBytes += bytes;
      return this.unpackedBytes;
    }, (entryBytes, totalBytes) => this.judge(entryBytes, declared.compressedSize, totalBytes));
  }

  private judge(entryBytes: number, compressedSize: number, totalBytes: number): string | null {
    const { maxEntryBytes, maxTotalBytes, maxRatio, ratioCheckFromBytes } = this.limits;
    if (entryBytes > maxEntryBytes) {
      return `this entry unpacks to more than ${formatBytes(maxEntryBytes)}, the limit for one file`;
    }
    if (totalBytes > maxTotalBytes) {
      return `the archive unpacks to more than ${formatBytes(maxTotalBytes)} in all, the limit for one archive`;
    }
    // Multiplied rather than divided: a compressed size of 0 must not turn into Infinity or NaN.
    if (entryBytes > ratioCheckFromBytes && entryBytes > maxRatio * compressedSize) {
      return `this entry expands to more than ${maxRatio} times its compressed size, as a zip bomb does`;
    }
    // Entries may share one block of compressed data (an "overlapping" zip bomb): each looks
    // modest on its own, so the archive as a whole is held to the same ratio.
    if (totalBytes > ratioCheckFromBytes && totalBytes > maxRatio * this.archiveBytes) {
      return `the archive expands to more than ${maxRatio} times its own size, as a zip bomb does`;
    }
    return null;
  }
}

/** The real output of one entry, chunk by chunk. */
export class EntryTally {
  private count = 0;

  constructor(
    private readonly declared: DeclaredSizes,
    private readonly addToTotal: (bytes: number) => number,
    private readonly judge: (entryBytes: number, totalBytes: number) => string | null,
  ) {}

  get bytes(): number {
    return this.count;
  }

  /** Counts one decompressed chunk; a reason means: stop now, this entry and the archive are refused. */
  add(chunkBytes: number): string | null {
    this.count += chunkBytes;
    const totalBytes = this.addToTotal(chunkBytes);
    // The classic bomb trick: a small declared size over a decompressor stream that never ends.
    if (this.count > this.declared.uncompressedSize) {
      return `this entry unpacks to more than the ${formatBytes(this.declared.uncompressedSize)} its header declares, as a zip bomb does`;
    }
    return this.judge(this.count, totalBytes);
  }
}
