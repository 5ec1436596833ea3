// Reads one byte range of a study's file for sending; a file changed or gone since its import fails the job, naming no path.
import { open } from 'node:fs/promises';
import { fileErrorReason } from '../file-error-reason.js';
import { JobFailed } from './job-errors.js';

/** Reads `length` bytes of the file at `path` from `start` (the chunk sender's way to the disk). */
export type ReadRange = (path: string, start: number, length: number) => Promise<Buffer>;

/**
 * A file that changed or vanished since it was imported cannot be sent: that is final for the job. The
 * job's error names no path (it can name a patient, and the error is shown, printed and logged).
 */
export async function readRange(path: string, start: number, length: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new JobFailed('FILE_UNREADABLE', `a file of the study can no longer be read: ${fileErrorReason(error)}; import the study again`);
  }
  try {
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(buffer, 0, length, start);
    if (bytesRead !== length) throw new JobFailed('FILE_TRUNCATED', 'a file of the study is shorter than when it was imported; import the study again');
    return buffer;
  } finally {
    await handle.close();
  }
}
