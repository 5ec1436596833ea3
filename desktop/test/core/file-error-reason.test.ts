// The one errno-to-sentence mapping: a sentence for each errno a person can act on, the code alone for
// any other, and never the path or the error's message (a path can name a patient).
import { open } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileErrorReason } from '../../src/core/file-error-reason.js';

const errno = (code: string | undefined, path = '/data/DOE^JANE 1970/IM0001') =>
  Object.assign(new Error(`${code}: something, open '${path}'`), { code, path, syscall: 'open' });

describe('fileErrorReason', () => {
  it('says why in words for the errnos a person can act on', () => {
    expect(fileErrorReason(errno('ENOENT'))).toBe('the file disappeared before it could be read');
    expect(fileErrorReason(errno('ENOENT'), { subject: 'archive' })).toBe('the archive disappeared before it could be read');
    expect(fileErrorReason(errno('ENOTDIR'), { subject: 'folder' })).toBe('the folder is not there (share disconnected, drive removed, or folder renamed)');
    expect(fileErrorReason(errno('ENOENT'), { action: 'opened' })).toBe('it does not exist');
    expect(fileErrorReason(errno('ENOENT'), { action: 'moved' })).toBe('the file was no longer there');
    expect(fileErrorReason(errno('EACCES'))).toBe('permission denied');
    expect(fileErrorReason(errno('EPERM'), { action: 'deleted' })).toBe('it could not be deleted: permission denied');
    expect(fileErrorReason(errno('EACCES'), { subject: 'folder' })).toBe('permission to read the folder was denied');
    expect(fileErrorReason(errno('EISDIR'))).toBe('it is a folder');
    expect(fileErrorReason(errno('EBUSY'), { action: 'moved' })).toBe('it could not be moved: it is in use');
  });

  it('gives an unknown errno by its code only, and an error without one as such', () => {
    expect(fileErrorReason(errno('EIO'))).toBe('it could not be read (EIO)');
    expect(fileErrorReason(errno('EIO'), { subject: 'folder' })).toBe('the folder could not be read (EIO)');
    expect(fileErrorReason(errno('EIO'), { action: 'opened' })).toBe('EIO');
    expect(fileErrorReason(new Error("unexpected end of '/data/DOE^JANE 1970/IM0001'"))).toBe('it could not be read (no error code)');
    expect(fileErrorReason(undefined)).toBe('it could not be read (no error code)');
  });

  it('never carries the path or the message of a real error, whatever the errno', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'DOE^JANE 1970-'));
    try {
      const real = await open(join(dir, 'IM0001'), 'r').then(() => undefined, (error: unknown) => error);
      expect((real as Error).message).toContain('DOE^JANE');
      const codes = ['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EISDIR', 'EBUSY', 'EIO', 'ELOOP', 'EMFILE', undefined];
      for (const code of codes) {
        for (const subject of ['file', 'archive', 'folder', 'photo'] as const) {
          for (const action of ['read', 'opened', 'moved', 'deleted'] as const) {
            const reason = fileErrorReason(code === 'ENOENT' ? real : errno(code, dir), { subject, action });
            expect(reason).not.toMatch(/DOE|JANE|1970|\//);
          }
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
