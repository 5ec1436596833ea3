import { open, type FileHandle } from 'node:fs/promises';

/**
 * fsync a directory, so the entries of files just created or renamed in it survive a crash (POSIX:
 * a file's own fsync does not cover its name). Some file systems, and Windows, cannot open or fsync
 * a directory: there the data itself is already synced, and nothing more can be done.
 */
export async function fsyncDirectory(path: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw error;
  } finally {
    await handle?.close();
  }
}
