import { Readable, pipeline } from 'node:stream';
import { createInflateRaw, type InflateRaw } from 'node:zlib';
import { EMPTY, type ByteSource, type ReadBudget } from './byte-source.js';
import { DicomReadError, ByteReadFailure } from './read-problem.js';

const COMPRESSED_SLICE_BYTES = 64 * 1024;

/**
 * The data set of a deflated transfer syntax: everything after the file meta header is one raw
 * deflate stream (RFC 1951, no zlib header; PS3.5 Annex A.5). It is inflated on demand and only as far
 * as the header walk asks: compressed bytes are pulled in slices as the inflater drains, and output
 * before the walk's position is dropped, so a multi-gigabyte (or deliberately explosive) stream costs
 * a few slices of memory. Every inflated byte is charged to the budget.
 */
export class InflatedBytes implements ByteSource {
  length: number | undefined;
  private readonly chunks: Buffer[] = [];
  /** Stream offset of chunks[0]. */
  private chunksStart = 0;
  /** Stream offset just past the last chunk. */
  private produced = 0;
  /** The deflate stream ended before its last block: the file was cut short (known once read to its end). */
  cutShort = false;
  private readonly compressed: Readable;
  private readonly inflater: InflateRaw;
  private readonly output: AsyncIterator<Buffer>;

  constructor(source: ByteSource, private readonly budget: ReadBudget) {
    const total = source.length ?? 0;
    let offset = 0;
    this.compressed = new Readable({
      highWaterMark: COMPRESSED_SLICE_BYTES,
      read(this: Readable) {
        if (offset >= total) {
          this.push(null);
          return;
        }
        const start = offset;
        offset = Math.min(total, start + COMPRESSED_SLICE_BYTES);
        source.read(start, offset, offset).then(
          (bytes) => {
            if (!this.destroyed) this.push(bytes);
          },
          (error: unknown) => this.destroy(error as Error),
        );
      },
    });
    // Z_FINISH at the end (the default): a stream cut short is told by zlib ("unexpected end of
    // file", Z_BUF_ERROR) after everything it could inflate; read() then records where the data set
    // ends and that it was cut (cutShort), and the walk reports a value cut short exactly (TRUNCATED).
    this.inflater = createInflateRaw({ chunkSize: COMPRESSED_SLICE_BYTES });
    // Errors reach us through the iterator; the pipeline only wires destruction both ways.
    pipeline(this.compressed, this.inflater, () => {});
    this.output = this.inflater[Symbol.asyncIterator]();
  }

  async read(start: number, needEnd: number, wantEnd: number): Promise<Buffer> {
    if (start < this.chunksStart) throw new Error('the inflated data set is read forward only');
    while (this.produced < needEnd && this.length === undefined) {
      let next: IteratorResult<Buffer>;
      try {
        next = await this.output.next();
      } catch (error) {
        if (error instanceof DicomReadError || error instanceof ByteReadFailure) throw error;
        if ((error as { code?: string }).code === 'Z_BUF_ERROR') {
          // The compressed bytes ended before the deflate stream did: the file was cut short.
          this.cutShort = true;
          this.length = this.produced;
          break;
        }
        throw new DicomReadError('MALFORMED', 'the deflated data set is not a valid deflate stream (PS3.5 Annex A.5)');
      }
      if (next.done) {
        this.length = this.produced;
        break;
      }
      this.budget.charge(next.value.length);
      this.chunks.push(next.value);
      this.produced += next.value.length;
      this.dropBefore(start);
    }
    this.dropBefore(start);
    const end = Math.min(wantEnd, this.produced);
    return end <= start ? EMPTY : this.slice(start, end);
  }

  /** Stops inflating and releases the streams; safe to call at any time, more than once. */
  close(): void {
    this.inflater.destroy();
    this.compressed.destroy();
  }

  private dropBefore(start: number): void {
    let first = this.chunks[0];
    while (first && this.chunksStart + first.length <= start) {
      this.chunksStart += first.length;
      this.chunks.shift();
      first = this.chunks[0];
    }
  }

  private slice(start: number, end: number): Buffer {
    const parts: Buffer[] = [];
    let chunkStart = this.chunksStart;
    for (const chunk of this.chunks) {
      const chunkEnd = chunkStart + chunk.length;
      if (chunkEnd > start && chunkStart < end) {
        parts.push(chunk.subarray(Math.max(start, chunkStart) - chunkStart, Math.min(end, chunkEnd) - chunkStart));
      }
      if (chunkEnd >= end) break;
      chunkStart = chunkEnd;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }
}
