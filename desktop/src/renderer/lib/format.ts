/** Numbers, dates and names as a radiographer reads them. Pure functions: no DOM, no clock. */

import { formatDicomDate, formatPersonName as formatDicomPersonName } from '../../common/dicom-display';

const BYTE_UNITS = ['bytes', 'kB', 'MB', 'GB', 'TB'] as const;

/** Decimal units (1 MB = 1,000,000 bytes), the way disks and network speeds are labelled. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1000) return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < BYTE_UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

export function formatSpeed(bytesPerSecond: number): string {
  return bytesPerSecond > 0 ? `${formatBytes(bytesPerSecond)}/s` : '—';
}

/** "about 3 min left"; null or negative means unknown. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return 'time left unknown';
  if (seconds < 60) return 'less than a minute left';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min left`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `about ${hours} h left` : `about ${hours} h ${rest} min left`;
}

/** Whole percent of a transfer, 0–100. */
export function percentOf(done: number, total: number): number {
  if (total <= 0) return 0;
  return Math.max(0, Math.min(100, Math.floor((done / total) * 100)));
}

/** A person name by the one formatter (common/dicom-display), or a word for none. */
export function formatPersonName(name: string): string {
  return formatDicomPersonName(name) || 'Unnamed patient';
}

/** A study date by the one formatter (common/dicom-display), or a word for none. */
export function formatStudyDate(date: string): string {
  return formatDicomDate(date) || 'No date';
}

/** An ISO timestamp in local time as "YYYY-MM-DD HH:MM". */
export function formatDateTime(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** "HH:MM-HH:MM" with real hours and minutes; the end may be earlier than the start (overnight). */
export function isTimeWindow(value: string): boolean {
  const match = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/.exec(value.trim());
  return match !== null && value.trim().slice(0, 5) !== value.trim().slice(6);
}

/** The local date as YYYY-MM-DD, for file names. */
export function localDateStamp(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
}

/** How a study is named in controls and notes: "DOE, JANE (2024-01-31)". */
export function studyLabel(study: { patientName: string; studyDate: string }): string {
  return `${formatPersonName(study.patientName)} (${formatStudyDate(study.studyDate)})`;
}
