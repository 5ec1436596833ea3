// The agent's settings in a real catalog file: typed values, validation messages, persistence.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalogDatabase, type CatalogDatabase } from '../../../src/core/catalog/catalog-database.js';
import { AgentSettings, SettingsError } from '../../../src/core/settings/agent-settings.js';
import { formatByteRate, parseByteRate } from '../../../src/core/settings/byte-rate.js';

let workDir: string;
let db: CatalogDatabase;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-settings-'));
  db = openCatalogDatabase(join(workDir, 'catalog.db'));
});
afterAll(async () => {
  db?.close();
  await rm(workDir, { recursive: true, force: true });
});

describe('byte rates', () => {
  it.each([
    ['4MB/s', 4_000_000], ['512KB/s', 512_000], ['512 kB/s', 512_000], ['1.5 MB/s', 1_500_000], ['1MiB/s', 1_048_576],
    ['20Mbit/s', 2_500_000], ['100 kbit/s', 12_500], ['250000', 250_000], ['off', null], ['OFF', null],
  ])('reads %j', (text, bytes) => {
    expect(parseByteRate(text)).toBe(bytes);
  });

  it.each([
    ['4 MBs', /"4 MBs" is not a rate: write e.g. 4MB\/s, 512KB\/s, 20Mbit\/s, or off/],
    ['fast', /not a rate/],
    ['-1MB/s', /not a rate/],
    ['4Mb/s', /"4Mb\/s" is ambiguous: write 4MB\/s for bytes or 4Mbit\/s for bits/],
    ['4 furlongs/s', /"furlongs\/s" in "4 furlongs\/s" is not a unit of rate/],
  ])('explains what is wrong with %j', (text, message) => {
    expect(() => parseByteRate(text)).toThrow(message);
  });

  it('prints rates as it reads them', () => {
    expect([4_000_000, 512_000, 1_500_000, 1_048_576, 999].map(formatByteRate)).toEqual(['4 MB/s', '512 KB/s', '1.5 MB/s', '1.05 MB/s', '999 B/s']);
  });
});

describe('agent settings', () => {
  it('defaults to no cap and no window', () => {
    expect(new AgentSettings(db).sending()).toEqual({ maxBytesPerSecond: null, routineWindows: [] });
  });

  it('stores a cap and windows, which another instance (another process) reads back', () => {
    const settings = new AgentSettings(db);
    expect(settings.apply({ maxRate: '4MB/s', routineWindows: '20:00-07:00,12:00-13:00' })).toEqual({
      maxBytesPerSecond: 4_000_000, routineWindows: [{ start: 1200, end: 420 }, { start: 720, end: 780 }],
    });
    const reopened = openCatalogDatabase(join(workDir, 'catalog.db'));
    try {
      expect(new AgentSettings(reopened).sending()).toEqual(settings.sending());
    } finally {
      reopened.close();
    }
    // One setting changed leaves the other alone; off clears it.
    expect(settings.apply({ maxRate: 'off' })).toMatchObject({ maxBytesPerSecond: null, routineWindows: [{ start: 1200, end: 420 }, { start: 720, end: 780 }] });
    expect(settings.apply({ routineWindows: 'off' })).toEqual({ maxBytesPerSecond: null, routineWindows: [] });
    expect(db.prepare('SELECT COUNT(*) AS n FROM settings').get()).toEqual({ n: 0 });
  });

  it.each([
    [{ maxRate: '4 MBs' }, /^bandwidth cap: "4 MBs" is not a rate/],
    [{ maxRate: '4Mb/s' }, /^bandwidth cap: "4Mb\/s" is ambiguous/],
    [{ maxRate: '1KB/s' }, /^bandwidth cap: 1 KB\/s is too low \(at least 10 KB\/s\); to keep routine studies off the link by day, set a routine window instead/],
    [{ routineWindows: '25:00-07:00' }, /^routine window: "25:00" in "25:00-07:00" is not a time of day/],
    [{ routineWindows: 'nights' }, /^routine window: "nights" is not a time window/],
  ])('refuses %j with a message that says what to write', (change, message) => {
    const settings = new AgentSettings(db);
    expect(() => settings.apply(change)).toThrow(SettingsError);
    expect(() => settings.apply(change)).toThrow(message);
  });

  it('changes nothing when one of several values is wrong', () => {
    const settings = new AgentSettings(db);
    settings.apply({ maxRate: '2MB/s' });
    expect(() => settings.apply({ maxRate: '8MB/s', routineWindows: '20:00' })).toThrow(/routine window/);
    expect(settings.sending()).toEqual({ maxBytesPerSecond: 2_000_000, routineWindows: [] });
    settings.apply({ maxRate: 'off' });
  });

  it('refuses typed values out of range, and reports a stored value edited into nonsense', () => {
    const settings = new AgentSettings(db);
    expect(() => settings.setMaxBytesPerSecond(Number.POSITIVE_INFINITY)).toThrow(/not a number of bytes per second/);
    expect(() => settings.setRoutineWindows([{ start: 0, end: 1440 }])).toThrow(/routine window: .* is not a time window/);
    db.prepare("INSERT INTO settings (key, value, updated_at) VALUES ('upload.routine_windows', 'evenings', '')").run();
    expect(() => settings.sending()).toThrow(/the stored setting upload.routine_windows \("evenings"\) is not valid; set it again/);
    settings.setRoutineWindows([]);
    expect(settings.sending().routineWindows).toEqual([]);
  });
});
