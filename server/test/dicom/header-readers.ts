import { open } from 'node:fs/promises';
import type { HeaderReader } from '../../src/dicom/part10-validator.js';

/** Every range the validator asked for, to prove it read a small prefix and nothing absurd. */
export interface ReadLog {
  ranges: Array<[number, number]>;
  /** Sum of the requested range lengths. */
  bytes: number;
  /** The largest single request. */
  largest: number;
}

function logRange(log: ReadLog, start: number, end: number): void {
  log.ranges.push([start, end]);
  log.bytes += end - start;
  log.largest = Math.max(log.largest, end - start);
}

/** A reader over bytes in memory, checking that every request lies inside the instance. */
export function bufferReader(bytes: Buffer): { readHeader: HeaderReader; size: number; log: ReadLog } {
  const log: ReadLog = { ranges: [], bytes: 0, largest: 0 };
  return {
    size: bytes.length,
    log,
    async readHeader(start, end) {
      if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start < end && end <= bytes.length)) {
        throw new Error(`out-of-range request [${start}, ${end}) for ${bytes.length} bytes`);
      }
      logRange(log, start, end);
      return bytes.subarray(start, end);
    },
  };
}

/** A reader over a file on disk, reading only the requested range: how a storage backend behaves. */
export async function fileReader(path: string): Promise<{ readHeader: HeaderReader; size: number; log: ReadLog; close(): Promise<void> }> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  const log: ReadLog = { ranges: [], bytes: 0, largest: 0 };
  return {
    size,
    log,
    async readHeader(start, end) {
      if (!(start >= 0 && start < end && end <= size)) throw new Error(`out-of-range request [${start}, ${end}) for ${size} bytes`);
      logRange(log, start, end);
      const out = Buffer.alloc(end - start);
      let filled = 0;
      while (filled < out.length) {
        const { bytesRead } = await handle.read(out, filled, out.length - filled, start + filled);
        if (bytesRead === 0) throw new Error('unexpected end of file');
        filled += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}
