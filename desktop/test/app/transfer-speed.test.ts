import { describe, expect, it } from 'vitest';
import { csvField } from '../../src/app/job-views.js';
import { TransferSpeed } from '../../src/app/transfer-speed.js';

describe('transfer speed', () => {
  it('measures bytes per second over the last few seconds and the time left at that speed', () => {
    let now = 0;
    const speed = new TransferSpeed(5_000, () => now);
    speed.record(1, 0, 10_000_000, true);
    expect(speed.get(1)).toEqual({ bytesSent: 0, totalBytes: 10_000_000, bytesPerSecond: 0, etaSeconds: null });
    for (let t = 1; t <= 10; t++) {
      now = t * 1000;
      speed.record(1, t * 500_000, 10_000_000, true);
    }
    expect(speed.get(1)).toEqual({ bytesSent: 5_000_000, totalBytes: 10_000_000, bytesPerSecond: 500_000, etaSeconds: 10 });
    // A stall: no report for 4 s, the speed falls and the time left grows.
    now = 14_000;
    const stalled = speed.get(1)!;
    expect(stalled.bytesPerSecond).toBeLessThan(500_000);
    expect(stalled.etaSeconds).toBeGreaterThan(10);
    // Not sending (held, forwarding): no speed, no time left.
    speed.record(1, 5_000_000, 10_000_000, false);
    expect(speed.get(1)).toMatchObject({ bytesPerSecond: 0, etaSeconds: null });
  });

  it('starts over when a resumed job reports fewer bytes, and says nothing under half a second', () => {
    let now = 0;
    const speed = new TransferSpeed(5_000, () => now);
    speed.record(2, 800, 1_000, true);
    now = 100;
    speed.record(2, 900, 1_000, true);
    expect(speed.get(2)?.bytesPerSecond).toBe(0);
    now = 200;
    speed.record(2, 100, 1_000, true);
    now = 1_200;
    speed.record(2, 600, 1_000, true);
    expect(speed.get(2)).toMatchObject({ bytesSent: 600, bytesPerSecond: 500, etaSeconds: 1 });
    speed.forget(2);
    expect(speed.get(2)).toBeUndefined();
  });
});

describe('display and export helpers', () => {
  it('quotes CSV fields as RFC 4180 says and defuses spreadsheet formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField(1234)).toBe('1234');
    expect(csvField('DOE, JOHN')).toBe('"DOE, JOHN"');
    expect(csvField('said "no"')).toBe('"said ""no"""');
    expect(csvField('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvField('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('-2')).toBe("'-2");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
  });
});
