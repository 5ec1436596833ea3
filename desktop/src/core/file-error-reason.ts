/**
 * Why a file (or folder, archive, photo) could not be used, in words a radiographer can act on: the one
 * errno-to-sentence mapping of the agent. It is built from the errno code alone, never from the path
 * (a folder or file name can name a patient: `DOE^JANE 1970/IM0001`) nor from the error's message
 * (Node puts the path in it: "ENOENT: no such file or directory, open '/…/DOE^JANE 1970/…'"), so the
 * sentence may go into a job's error, a skipped file's reason, a log line or the CLI's output. An errno
 * without a sentence of its own gives its code only.
 */
export type FileErrorSubject = 'file' | 'archive' | 'folder' | 'photo';

/**
 * - read: the thing was being read; a missing one disappeared after it was found (a full sentence).
 * - opened: a thing named by someone was opened; a missing one does not exist (a short clause the caller
 *   puts in brackets: "the photo could not be read (it does not exist)").
 * - moved, deleted: after delivery.
 */
export type FileErrorAction = 'read' | 'opened' | 'moved' | 'deleted';

export interface FileErrorContext {
  subject?: FileErrorSubject;
  action?: FileErrorAction;
}

/** The errno code of a Node file system error, when there is one (never its message). */
export function errnoCode(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as NodeJS.ErrnoException).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

export function fileErrorReason(error: unknown, { subject = 'file', action = 'read' }: FileErrorContext = {}): string {
  const code = errnoCode(error);
  const verb = action === 'opened' ? 'read' : action;
  // A file is "it" (the sentence is about a file already); anything else is named.
  const it = subject === 'file' ? 'it' : `the ${subject}`;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    if (subject === 'folder') return 'the folder is not there (share disconnected, drive removed, or folder renamed)';
    if (action === 'opened') return 'it does not exist';
    if (action === 'moved' || action === 'deleted') return `the ${subject} was no longer there`;
    return `the ${subject} disappeared before it could be read`;
  }
  if (code === 'EACCES' || code === 'EPERM') {
    if (subject === 'folder') return 'permission to read the folder was denied';
    return action === 'moved' || action === 'deleted' ? `it could not be ${action}: permission denied` : 'permission denied';
  }
  if (code === 'EISDIR' && subject !== 'folder') return 'it is a folder';
  if (code === 'EBUSY') return `it could not be ${verb}: it is in use`;
  const shown = code ?? 'no error code';
  return action === 'opened' ? shown : `${it} could not be ${verb} (${shown})`;
}
