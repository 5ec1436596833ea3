import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';
import { dataSetEncoding, fileRangeReader, readInstance } from '@relaypacs/dicom';

export type CompletenessResult = { complete: true } | { complete: false; reason: string };

const COMPLETE = { complete: true } as const;

/**
 * Answers whether a file whose header already read well also holds all of its pixel data. The
 * header reader stops at Pixel Data (7FE0,0010): a native value must fit in the file, which it
 * checks, but encapsulated fragments (PS3.5 Annex A.4) and a deflated data set (PS3.5 Annex A.5)
 * run on past it, so a copy that stalled there reads as a good header; taking it then would send
 * half an image. Here the reading core walks the fragments to their Sequence Delimitation Item
 * (8 bytes read per fragment), and a deflated data set is inflated to the end of its stream.
 *
 * Only "certainly incomplete" holds a file back: anything this check cannot judge (a file the
 * reader refuses for another reason, a header too large to walk) is called complete, and the
 * header reader and the relay decide. Rejects only when the file cannot be read (I/O).
 */
export async function checkInstanceComplete(path: string): Promise<CompletenessResult> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const read = await readInstance(fileRangeReader(handle), size, { bareDataSet: 'read', throughPixelData: true });
    if (!read.ok) return read.code === 'TRUNCATED' ? { complete: false, reason: read.reason } : COMPLETE;
    if (!dataSetEncoding(read.transferSyntaxUid).deflated) return COMPLETE;
    return await checkDeflated(path, read.dataSetStart);
  } finally {
    await handle.close();
  }
}

/**
 * A deflated data set is one raw deflate stream from the end of the meta header to the end of the
 * file (PS3.5 Annex A.5): it is whole when the stream reaches its final block. The header walk
 * inflated only up to Pixel Data, so the rest is inflated here, streamed and discarded.
 */
async function checkDeflated(path: string, dataSetStart: number): Promise<CompletenessResult> {
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  try {
    await pipeline(createReadStream(path, { start: dataSetStart }), createInflateRaw(), discard);
    return COMPLETE;
  } catch (error) {
    // zlib's "unexpected end of file": the compressed bytes stop before the stream does.
    if ((error as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') return { complete: false, reason: 'the compressed data set ends early' };
    return COMPLETE;
  }
}
