import type { Entry } from 'yauzl';
import yauzl from 'yauzl';

/**
 * An entry's name as its archive means it: UTF-8 when flagged or given in an Info-ZIP Unicode path
 * field, otherwise CP437 (APPNOTE.TXT 4.4.4 bit 11, appendix D). Backslashes are read as folder
 * separators, as Windows tools write them, so `C:\x` and `\\server\x` are seen for what they are.
 */
export function entryName(entry: Entry): string {
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
}

/**
 * Why a name is refused, or null. The name is never used to build a path on disk (see diskName),
 * so refusing is not what keeps files inside the temp area; it tells the user that the archive was
 * made to write outside its folder (a "zip slip"), which is reason enough to distrust the entry.
 */
export function unsafeNameReason(name: string): string | null {
  if (name.length === 0) return 'the entry has no name';
  if (name.includes('\0')) return 'the entry name contains a NUL character, a trick to cut a path short';
  if (name.startsWith('/')) return 'the entry name is an absolute path (it points outside the archive)';
  if (/^[A-Za-z]:/.test(name)) return 'the entry name starts with a drive letter (it points outside the archive)';
  if (name.split('/').includes('..')) return "the entry name climbs out of the archive's folder with '..' (a zip-slip attempt)";
  return null;
}

/**
 * The name the entry is written under in the temp area: a counter that keeps names unique, then
 * the entry's last path segment reduced to characters safe on every file system, for whoever
 * looks in the folder. Nothing of the entry name can choose the folder.
 */
export function diskName(index: number, name: string): string {
  const last = name.split('/').filter((segment) => segment.length > 0).pop() ?? '';
  const safe = last.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 80);
  const counter = String(index).padStart(6, '0');
  return safe.length > 0 ? `${counter}-${safe}` : counter;
}

/**
 * `archive.zip › folder/file` for the user. Control and text-direction characters are replaced:
 * a name must not be able to rewrite how the line reads (e.g. U+202E turning `gpj.exe` around).
 */
export function entryDisplayName(archiveName: string, name: string): string {
  // eslint-disable-next-line no-control-regex
  return `${archiveName} › ${name.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?')}`;
}
