/**
 * Time windows for routine sending ("routine studies only at night"), in the workstation's local
 * wall-clock time: 20:00-07:00 means from eight in the evening to seven in the morning whatever the
 * UTC offset that day, so a window follows the clinic through daylight-saving changes. A window
 * whose end is before its start crosses midnight. Pure functions: the caller passes the time.
 */
export interface TransferWindow {
  /** Minutes after local midnight, 0-1439. */
  start: number;
  /** Minutes after local midnight, 0-1439; before `start` when the window crosses midnight. */
  end: number;
}

export class TransferWindowError extends Error {}

const TIME = /^(\d{1,2}):(\d{2})$/;

/** Parses "20:00-07:00" or a comma-separated list of such windows; throws with what is wrong. */
export function parseTransferWindows(text: string): TransferWindow[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.some((part) => part === '')) throw new TransferWindowError(`"${text}" is not a list of time windows: write e.g. 20:00-07:00 or 20:00-07:00,12:00-13:00`);
  return parts.map(parseTransferWindow);
}

export function parseTransferWindow(text: string): TransferWindow {
  const match = /^([^-]+)-([^-]+)$/.exec(text.trim());
  if (!match) throw new TransferWindowError(`"${text}" is not a time window: write start-end in 24-hour local time, e.g. 20:00-07:00`);
  const start = parseTime(match[1]!.trim(), text);
  const end = parseTime(match[2]!.trim(), text);
  if (start === end) throw new TransferWindowError(`"${text}" starts and ends at the same time: for no restriction set the window to off`);
  return { start, end };
}

function parseTime(time: string, window: string): number {
  const match = TIME.exec(time);
  const hours = Number(match?.[1]);
  const minutes = Number(match?.[2]);
  if (!match || hours > 23 || minutes > 59) {
    throw new TransferWindowError(`"${time}" in "${window}" is not a time of day: write HH:MM in 24-hour local time, 00:00 to 23:59`);
  }
  return hours * 60 + minutes;
}

/** "20:00-07:00": the form parseTransferWindow reads back (and the settings store). */
export function formatTransferWindow(window: TransferWindow): string {
  return `${formatTime(window.start)}-${formatTime(window.end)}`;
}

function formatTime(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** "between 20:00 and 07:00 or between 12:00 and 13:00", for reasons a radiographer reads. */
export function describeTransferWindows(windows: readonly TransferWindow[]): string {
  return windows.map((w) => `between ${formatTime(w.start)} and ${formatTime(w.end)}`).join(' or ');
}

/** No windows means no restriction. */
export function isWindowOpen(windows: readonly TransferWindow[], at: Date): boolean {
  if (windows.length === 0) return true;
  const minute = at.getHours() * 60 + at.getMinutes();
  return windows.some((w) => (w.start < w.end ? minute >= w.start && minute < w.end : minute >= w.start || minute < w.end));
}

/**
 * Milliseconds until a window next opens (0 when one is open). The opening instant is built from
 * local calendar fields, so the answer is real elapsed time even across a daylight-saving change
 * (22:00 to 06:00 is 7 hours on the night clocks go forward). An opening time that does not exist
 * that day (inside the skipped hour) is the first instant after the gap, as Date resolves it.
 */
export function msUntilWindowOpens(windows: readonly TransferWindow[], at: Date): number {
  if (isWindowOpen(windows, at)) return 0;
  let soonest = Infinity;
  for (const window of windows) {
    for (let day = 0; day <= 1; day++) {
      const opens = new Date(at.getFullYear(), at.getMonth(), at.getDate() + day, Math.floor(window.start / 60), window.start % 60, 0, 0);
      if (opens.getTime() > at.getTime()) {
        soonest = Math.min(soonest, opens.getTime() - at.getTime());
        break;
      }
    }
  }
  return soonest;
}
