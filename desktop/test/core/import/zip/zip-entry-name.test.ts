import { describe, expect, it } from 'vitest';
import { diskName, entryDisplayName, unsafeNameReason } from '../../../../src/core/import/zip/zip-entry-name.js';

describe('zip entry names', () => {
  it.each([
    ['../evil', /climbs out/],
    ['a/b/../../../evil', /climbs out/],
    ['..', /climbs out/],
    ['/etc/passwd', /absolute path/],
    ['//server/share/x', /absolute path/],
    ['C:/Windows/evil', /drive letter/],
    ['c:evil', /drive letter/],
    ['', /no name/],
    ['ok\0.exe', /NUL/],
  ])('refuses %j', (name, reason) => {
    expect(unsafeNameReason(name)).toMatch(reason);
  });

  it.each(['IM0001', 'DICOM/PAT1/IM1.dcm', 'a..b/..c/d..', '.hidden', 'folder/'])('accepts %j', (name) => {
    expect(unsafeNameReason(name)).toBeNull();
  });

  it('writes a counter and a tame last segment, nothing that can choose a folder', () => {
    expect(diskName(1, 'DICOM/PAT1/IM0001.dcm')).toBe('000001-IM0001.dcm');
    expect(diskName(12, 'a/..hidden name?.dcm')).toBe('000012-hidden_name_.dcm');
    expect(diskName(3, 'folder/')).toBe('000003-folder');
    expect(diskName(4, '')).toBe('000004');
    expect(diskName(5, '..')).toBe('000005');
    expect(diskName(6, 'x'.repeat(300))).toHaveLength(7 + 80);
    expect(diskName(7, 'IMÄGE\u202Ecod.exe')).toBe('000007-IM_GE_cod.exe');
  });

  it('shows the archive and the entry, with control and direction characters masked', () => {
    expect(entryDisplayName('study.zip', 'CT/IM1')).toBe('study.zip › CT/IM1');
    expect(entryDisplayName('a.zip', 'x\u0007y\u2066z')).toBe('a.zip › x?y?z');
  });
});
