import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, fileErrorReason } from '../../file-error-reason.js';

export type Resolution =
  | { found: true; path: string }
  | { found: false; reason: string };

interface Entry {
  name: string;
  kind: 'file' | 'folder' | 'other';
}
type Listing = { ok: true; entries: Map<string, Entry[]> } | { ok: false; reason: string };

/**
 * Turns a Referenced File ID (0004,1500) into a file on disk. The components are joined with the
 * OS separator under the DICOMDIR's folder (PS3.10 §8.2, §8.6 note 2). Media are written in
 * ISO 9660 style (upper case, PS3.10 §8.2 / PS3.12 Annex F), but a copy may have been lower-cased,
 * or mounted with ";1" version suffixes or trailing dots: when the exact path is not there, each
 * component is matched case-insensitively against the folder's listing. Listings are cached, so a
 * lower-cased CD of 50 000 images reads each folder once.
 */
export class ReferencedFileResolver {
  private readonly listings = new Map<string, Promise<Listing>>();

  constructor(private readonly root: string) {}

  async resolve(fileId: readonly string[]): Promise<Resolution> {
    // PS3.10 §8.6: a DICOMDIR never references files outside its file-set. A component that could
    // climb out of (or jump away from) the media folder is refused, not resolved.
    if (fileId.length === 0 || fileId.some((part) => !isSafeFileIdComponent(part))) {
      return { found: false, reason: 'listed in DICOMDIR with a path that leads outside the media folder' };
    }
    const exact = join(this.root, ...fileId);
    try {
      const stats = await lstat(exact);
      if (stats.isFile()) return { found: true, path: exact };
      if (stats.isDirectory() || stats.isSymbolicLink()) return { found: false, reason: 'listed in DICOMDIR but is not a regular file' };
    } catch {
      // not there under this exact spelling: try the case-insensitive walk below
    }

    let folder = this.root;
    for (let i = 0; i < fileId.length; i++) {
      const last = i === fileId.length - 1;
      const listing = await this.list(folder);
      if (!listing.ok) return { found: false, reason: `listed in DICOMDIR but its folder could not be read (${listing.reason})` };
      const component = fileId[i] ?? '';
      const candidates = (listing.entries.get(fold(component)) ?? []).filter((entry) => entry.kind === (last ? 'file' : 'folder'));
      // Prefer the exact spelling; two names differing only in case on the same medium is an
      // oddity of case-sensitive copies, and the sorted first one is as good a guess as any.
      const match = candidates.find((entry) => entry.name === component) ?? candidates[0];
      if (!match) return { found: false, reason: 'listed in DICOMDIR but missing' };
      folder = join(folder, match.name);
    }
    return { found: true, path: folder };
  }

  private list(folder: string): Promise<Listing> {
    let listing = this.listings.get(folder);
    if (!listing) {
      listing = readListing(folder);
      this.listings.set(folder, listing);
    }
    return listing;
  }
}

async function readListing(folder: string): Promise<Listing> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: true, entries: new Map() };
    return { ok: false, reason: fileErrorReason(error, { action: 'opened' }) };
  }
  const entries = new Map<string, Entry[]>();
  for (const dirent of dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    // Symbolic links are not followed, as in the folder scan: a CD export has none.
    const kind = dirent.isFile() ? 'file' : dirent.isDirectory() ? 'folder' : 'other';
    const key = fold(dirent.name);
    const same = entries.get(key);
    if (same) same.push({ name: dirent.name, kind });
    else entries.set(key, [{ name: dirent.name, kind }]);
  }
  return { ok: true, entries };
}

/**
 * The spelling-insensitive form of a name: upper case, without an ISO 9660 version suffix (";1")
 * or the trailing dot some drivers show for names without an extension (ECMA-119 §7.5).
 */
function fold(name: string): string {
  return name.replace(/;\d+$/, '').replace(/\.$/, '').toUpperCase();
}

/** False for a component that is empty, a dot segment, or carries a separator or drive colon. */
export function isSafeFileIdComponent(part: string): boolean {
  return part !== '' && part !== '.' && part !== '..' && !/[/\\:\0]/.test(part);
}
