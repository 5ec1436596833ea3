import { isAbsolute, relative, sep } from 'node:path';

/**
 * Names that are never an instance to send: hidden files and folders (.DS_Store, rsync's
 * .name.XXXXXX while it copies, .Trash), Office-style lock and temp files (~name), and the partial
 * files copy tools write before renaming to the real name (name.part, name.filepart, name.tmp).
 */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('~') || /\.(part|partial|filepart|tmp|temp)$/i.test(name);
}

/**
 * True when any part of `path` below `root` has an ignored name, so a hidden folder hides everything
 * in it. The root itself may have any name (a user may well watch ~/.exports).
 */
export function isIgnoredPath(root: string, path: string): boolean {
  const rel = relative(root, path);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return false;
  return rel.split(sep).some(isIgnoredName);
}
