import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeFileMeta } from '@relaypacs/dicom';
import { fsyncDirectory } from '../../../../server/src/storage/fsync-directory.js';
import type { InstanceHeader } from '../dicom/instance-header.js';
import { RELAYPACS_IMPLEMENTATION_CLASS_UID, RELAYPACS_IMPLEMENTATION_VERSION } from './photo/dicom-uid.js';

export interface WrappedFile {
  path: string;
  size: number;
  sha256: string;
}

/**
 * A bare data set (no preamble, "DICM" or File Meta Information: what some modalities, old media and
 * other toolkits' "data set only" writers produce) made into a Part 10 file as PS3.10 §7.1 asks: a
 * meta header built for it (SOP Class and Instance UIDs from the data set, the transfer syntax the
 * header reader detected from its bytes, RelayPACS as the implementation, the workstation as
 * Source AE), then the data set's bytes, unchanged. The relay and the PACS take Part 10 files; the
 * original file is never modified. Written under `dir` by the SHA-256 of the result (a re-import
 * makes the same file), complete and flushed before it appears there.
 */
export async function wrapWithFileMeta(sourcePath: string, header: InstanceHeader, dir: string, sourceAeTitle?: string): Promise<WrappedFile> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const meta = encodeFileMeta({
    sopClassUid: header.sopClassUid, sopInstanceUid: header.sopInstanceUid, transferSyntaxUid: header.transferSyntaxUid,
    implementationClassUid: RELAYPACS_IMPLEMENTATION_CLASS_UID, implementationVersionName: RELAYPACS_IMPLEMENTATION_VERSION,
    ...(sourceAeTitle ? { sourceAeTitle } : {}),
  });
  const temporary = join(dir, `.wrapping-${randomBytes(8).toString('hex')}.partial`);
  const hash = createHash('sha256');
  let size = 0;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    try {
      const write = async (chunk: Buffer) => {
        for (let offset = 0; offset < chunk.length; ) offset += (await handle.write(chunk, offset)).bytesWritten;
        hash.update(chunk);
        size += chunk.length;
      };
      await write(meta);
      for await (const chunk of createReadStream(sourcePath, { highWaterMark: 1024 * 1024 })) await write(chunk as Buffer);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const sha256 = hash.digest('hex');
    const path = join(dir, `${sha256}.dcm`);
    await rename(temporary, path);
    await fsyncDirectory(dir);
    return { path, size, sha256 };
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * An AE title (PS3.5 §6.2, AE: at most 16 characters of the default repertoire, no backslash or
 * control characters) for this workstation, from its host name: upper case, letters, digits, - and _.
 */
export function aeTitleFor(hostName: string): string {
  const title = hostName.split('.')[0]!.toUpperCase().replace(/[^A-Z0-9_-]/g, '').slice(0, 16);
  return title || 'RELAYPACS';
}
