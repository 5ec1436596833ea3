import type { FileHandle } from 'node:fs/promises';
import type { HeaderReader } from './byte-source.js';

/**
 * Bytes [start, end) of an open file, for readInstance. A read that comes back short (the file
 * shrank since its size was taken) is returned short: the reader reports that as an I/O fault.
 */
export function fileRangeReader(handle: FileHandle): HeaderReader {
  return async (start, end) => {
    const buffer = Buffer.allocUnsafe(end - start);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, start + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === buffer.length ? buffer : buffer.subarray(0, filled);
  };
}
