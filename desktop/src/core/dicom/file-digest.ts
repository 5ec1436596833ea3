import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/**
 * SHA-256 of a whole file through one reused 1 MiB buffer: hashing a 2 GB instance allocates
 * nothing per read, so memory stays flat however large the file.
 */
export async function sha256OfFile(path: string, buffer: Buffer = Buffer.allocUnsafe(1024 * 1024)): Promise<{ sha256: string; size: number }> {
  const handle = await open(path, 'r');
  const hash = createHash('sha256');
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, size);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest('hex'), size };
}
