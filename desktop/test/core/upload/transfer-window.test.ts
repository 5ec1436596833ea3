import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeTransferWindows, formatTransferWindow, isWindowOpen, msUntilWindowOpens, parseTransferWindows, TransferWindowError,
} from '../../../src/core/upload/transfer-window.js';

const HOUR = 3_600_000;
/** A local wall-clock time on an ordinary day (no daylight-saving change near it in any zone we run in). */
const at = (hours: number, minutes = 0, seconds = 0, day = 10) => new Date(2026, 5, day, hours, minutes, seconds);

describe('transfer windows', () => {
  it('parses one window or a list, crossing midnight or not', () => {
    expect(parseTransferWindows('20:00-07:00')).toEqual([{ start: 1200, end: 420 }]);
    expect(parseTransferWindows(' 20:00 - 7:00 , 12:00-13:30')).toEqual([{ start: 1200, end: 420 }, { start: 720, end: 810 }]);
    expect(parseTransferWindows('00:00-23:59').map(formatTransferWindow)).toEqual(['00:00-23:59']);
    expect(describeTransferWindows(parseTransferWindows('20:00-07:00,12:00-13:00'))).toBe('between 20:00 and 07:00 or between 12:00 and 13:00');
  });

  it.each([
    ['20:00', /not a time window: write start-end in 24-hour local time, e.g. 20:00-07:00/],
    ['8pm-7am', /"8pm" in "8pm-7am" is not a time of day: write HH:MM/],
    ['24:00-07:00', /"24:00" .* 00:00 to 23:59/],
    ['20:60-07:00', /"20:60" .* not a time of day/],
    ['20:00-20:00', /starts and ends at the same time: for no restriction set the window to off/],
    ['20:00-07:00,', /not a list of time windows/],
    ['', /not a list of time windows/],
  ])('explains what is wrong with %j', (text, message) => {
    expect(() => parseTransferWindows(text)).toThrow(TransferWindowError);
    expect(() => parseTransferWindows(text)).toThrow(message);
  });

  it('is open from the start minute up to, not including, the end minute, across midnight', () => {
    const night = parseTransferWindows('20:00-07:00');
    expect(isWindowOpen(night, at(19, 59, 59))).toBe(false);
    expect(isWindowOpen(night, at(20, 0))).toBe(true);
    expect(isWindowOpen(night, at(23, 59, 59))).toBe(true);
    expect(isWindowOpen(night, at(0, 0))).toBe(true);
    expect(isWindowOpen(night, at(6, 59, 59))).toBe(true);
    expect(isWindowOpen(night, at(7, 0))).toBe(false);
    expect(isWindowOpen(night, at(12, 0))).toBe(false);
    const lunch = parseTransferWindows('12:00-13:00');
    expect([11.99, 12, 12.5, 13].map((h) => isWindowOpen(lunch, at(Math.floor(h), Math.round((h % 1) * 60))))).toEqual([false, true, true, false]);
    // Several windows: open in any of them. None: always open.
    const both = parseTransferWindows('20:00-07:00,12:00-13:00');
    expect([at(12, 30), at(21, 0), at(15, 0)].map((d) => isWindowOpen(both, d))).toEqual([true, true, false]);
    expect(isWindowOpen([], at(15, 0))).toBe(true);
  });

  it('says how long until the next window opens', () => {
    const night = parseTransferWindows('20:00-07:00');
    expect(msUntilWindowOpens(night, at(10, 0))).toBe(10 * HOUR);
    expect(msUntilWindowOpens(night, at(7, 0))).toBe(13 * HOUR);
    expect(msUntilWindowOpens(night, at(19, 59, 30))).toBe(30_000);
    expect(msUntilWindowOpens(night, at(3, 0))).toBe(0);
    // The soonest of several, including one that opens tomorrow.
    expect(msUntilWindowOpens(parseTransferWindows('20:00-07:00,12:00-13:00'), at(10, 0))).toBe(2 * HOUR);
    expect(msUntilWindowOpens(parseTransferWindows('05:00-06:00'), at(10, 0))).toBe(19 * HOUR);
    expect(msUntilWindowOpens([], at(10, 0))).toBe(0);
  });

  describe('in a zone with daylight saving time (Europe/Berlin)', () => {
    const saved = process.env.TZ;
    beforeAll(() => {
      // Node re-reads TZ when it is assigned; test files run in their own process (vitest forks).
      process.env.TZ = 'Europe/Berlin';
      expect(new Date(2026, 0, 15).getTimezoneOffset()).toBe(-60);
      expect(new Date(2026, 6, 15).getTimezoneOffset()).toBe(-120);
    });
    afterAll(() => {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    });

    it('follows the wall clock: 22:00 to 06:00 is 7 hours when clocks go forward, 9 when they go back', () => {
      const early = parseTransferWindows('06:00-07:00');
      // Clocks go forward at 02:00 on 29 March 2026 and back at 03:00 on 25 October 2026.
      expect(msUntilWindowOpens(early, new Date(2026, 2, 28, 22, 0))).toBe(7 * HOUR);
      expect(msUntilWindowOpens(early, new Date(2026, 9, 24, 22, 0))).toBe(9 * HOUR);
      // And the window is open at 06:30 local on both mornings, whatever the UTC offset.
      expect(isWindowOpen(early, new Date('2026-03-29T04:30:00Z'))).toBe(true);
      expect(isWindowOpen(early, new Date('2026-10-25T05:30:00Z'))).toBe(true);
      expect(isWindowOpen(early, new Date('2026-10-25T04:30:00Z'))).toBe(false);
    });

    it('treats the repeated hour as inside a window that covers it, both times', () => {
      const overnight = parseTransferWindows('20:00-07:00');
      // 02:30 local happens twice on 25 October 2026: at 00:30Z (CEST) and 01:30Z (CET).
      expect(isWindowOpen(overnight, new Date('2026-10-25T00:30:00Z'))).toBe(true);
      expect(isWindowOpen(overnight, new Date('2026-10-25T01:30:00Z'))).toBe(true);
    });
  });
});
