import type { Entry } from 'yauzl';
import { unsafeNameReason } from './zip-entry-name.js';

export type EntryVerdict =
  | { kind: 'file' }
  | { kind: 'folder' }
  | { kind: 'refused'; reason: string };

// File type bits of a Unix st_mode, kept in the high 16 bits of the external attributes by Unix
// zip tools (APPNOTE.TXT 4.4.15; Info-ZIP's unix/unix.c).
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

const DEFLATE = 8;
const STORE = 0;

// APPNOTE.TXT 4.4.5: the methods people meet in the wild, named so the reason means something.
const METHOD_NAMES: Readonly<Record<number, string>> = {
  1: 'Shrink', 6: 'Implode', 9: 'Deflate64', 12: 'BZIP2', 14: 'LZMA', 93: 'Zstandard', 95: 'XZ', 98: 'PPMd', 99: 'AES',
};

/**
 * What to do with one entry before touching its data: unpack it, pass over a folder, or refuse it
 * with a reason. The checks do not depend on the host system recorded in the archive: whatever
 * made it, a symbolic link or device entry is never a DICOM file.
 */
export function classifyEntry(entry: Entry, name: string): EntryVerdict {
  const unsafe = unsafeNameReason(name);
  if (unsafe !== null) return { kind: 'refused', reason: unsafe };

  const type = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (type === S_IFLNK) {
    return { kind: 'refused', reason: 'the entry is a symbolic link, which could point anywhere on this computer' };
  }
  if (type === S_IFDIR || name.endsWith('/')) return { kind: 'folder' };
  if (type !== 0 && type !== S_IFREG) {
    return { kind: 'refused', reason: 'the entry is a device, pipe or socket, not a file' };
  }

  // Bit 0: traditional PKWARE or AES encryption (APPNOTE.TXT 4.4.4). Strong encryption (bit 6)
  // is already refused for the whole archive by yauzl.
  if ((entry.generalPurposeBitFlag & 0x1) !== 0) {
    return { kind: 'refused', reason: 'the entry is password-protected, which RelayPACS cannot open (unzip the archive with its password and import the folder)' };
  }
  if (entry.compressionMethod !== STORE && entry.compressionMethod !== DEFLATE) {
    const method = METHOD_NAMES[entry.compressionMethod] ?? 'an unknown method';
    return {
      kind: 'refused',
      reason: `the entry is compressed with ${method} (method ${entry.compressionMethod}), which RelayPACS cannot unpack (re-create the archive with ordinary Deflate compression)`,
    };
  }
  return { kind: 'file' };
}
