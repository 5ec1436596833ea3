import { describe, expect, it } from 'vitest';
import { formatDicomDate, formatPersonName as dicomName } from '../../../src/common/dicom-display';
import { formatBytes, formatEta, formatPersonName, formatSpeed, formatStudyDate, isTimeWindow, percentOf } from '../../../src/renderer/lib/format';

describe('formatting', () => {
  it('writes sizes in decimal units', () => {
    expect(formatBytes(0)).toBe('0 bytes');
    expect(formatBytes(1)).toBe('1 byte');
    expect(formatBytes(62_914_560)).toBe('62.9 MB');
    expect(formatBytes(1_500_000_000)).toBe('1.5 GB');
    expect(formatSpeed(2_500_000)).toBe('2.5 MB/s');
    expect(formatSpeed(0)).toBe('—');
  });

  it('writes time left in plain words', () => {
    expect(formatEta(null)).toBe('time left unknown');
    expect(formatEta(20)).toBe('less than a minute left');
    expect(formatEta(180)).toBe('about 3 min left');
    expect(formatEta(3 * 3600 + 600)).toBe('about 3 h 10 min left');
  });

  it('writes DICOM person names as FAMILY, Given (PS3.5 PN)', () => {
    expect(formatPersonName('DOE^JANE')).toBe('DOE, JANE');
    expect(formatPersonName('DOE^JANE^Q^DR^')).toBe('DOE, DR JANE Q');
    expect(formatPersonName('ANONYMOUS')).toBe('ANONYMOUS');
    expect(formatPersonName('YAMADA^TARO=山田^太郎')).toBe('YAMADA, TARO');
    expect(formatPersonName('')).toBe('Unnamed patient');
  });

  it('writes DICOM dates as YYYY-MM-DD', () => {
    expect(formatStudyDate('20240131')).toBe('2024-01-31');
    expect(formatStudyDate('2024-01-31T10:00:00Z')).toBe('2024-01-31');
    expect(formatStudyDate('')).toBe('No date');
  });

  it('checks routine time windows', () => {
    expect(isTimeWindow('19:00-07:00')).toBe(true);
    expect(isTimeWindow('08:00-18:30')).toBe(true);
    expect(isTimeWindow('24:00-07:00')).toBe(false);
    expect(isTimeWindow('7:00-9:00')).toBe(false);
    expect(isTimeWindow('08:00-08:00')).toBe(false);
  });

  it('caps percentages to 0–100', () => {
    expect(percentOf(25, 100)).toBe(25);
    expect(percentOf(5, 0)).toBe(0);
    expect(percentOf(150, 100)).toBe(100);
  });

  // The one formatter (common/dicom-display) with a word for nothing: what the core sends reads the same.
  it('is what the renderer shows, raw or already formatted by the core, with a word for nothing', () => {
    for (const raw of ['DOE^JOHN^Q^DR^JR', '=山田^太郎', 'ANONYMOUS', 'DOE^JANE']) {
      expect(formatPersonName(raw)).toBe(dicomName(raw));
      expect(formatPersonName(dicomName(raw))).toBe(dicomName(raw));
    }
    expect(formatPersonName('')).toBe('Unnamed patient');
    for (const raw of ['20240131', '2024.01.31', '2024-01-31T10:00:00Z']) expect(formatStudyDate(raw)).toBe(formatDicomDate(raw));
    expect(formatStudyDate('')).toBe('No date');
  });
});
