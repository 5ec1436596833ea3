// The one formatter of DICOM names and dates (common), which the core and the renderer both use: the
// renderer's screens show what the core sends and what they format themselves by the same rules
// (desktop/test/renderer/lib/format.test.ts).
import { describe, expect, it } from 'vitest';
import { formatDicomDate, formatPersonName, personNameFromDisplay } from '../../src/common/dicom-display.js';

describe('DICOM display', () => {
  it('shows DICOM person names and dates as people read them', () => {
    expect(formatPersonName('DOE^JOHN')).toBe('DOE, JOHN');
    expect(formatPersonName('DOE^JOHN^Q^DR^JR')).toBe('DOE, DR JOHN Q JR');
    expect(formatPersonName('DOE')).toBe('DOE');
    expect(formatPersonName('^JOHN')).toBe('JOHN');
    expect(formatPersonName('YAMADA^TARO=山田^太郎')).toBe('YAMADA, TARO');
    expect(formatPersonName('=山田^太郎')).toBe('山田, 太郎');
    expect(formatPersonName('')).toBe('');
    expect(formatDicomDate('20240131')).toBe('2024-01-31');
    expect(formatDicomDate('2024.01.31')).toBe('2024-01-31');
    expect(formatDicomDate('2024-01-31T10:00:00Z')).toBe('2024-01-31');
    expect(formatDicomDate(' 2024 ')).toBe('2024');
    expect(formatDicomDate('')).toBe('');
  });

  it('reads a typed name back as typed', () => {
    for (const typed of ['Doe, Jane', 'DOE, JANE Q']) expect(formatPersonName(personNameFromDisplay(typed))).toBe(typed);
    expect(personNameFromDisplay('Jane Doe')).toBe('Jane Doe');
    expect(personNameFromDisplay('DOE^JANE')).toBe('DOE^JANE');
  });

});
