import { describe, expect, it } from 'vitest';
import { ExpansionBudget } from '../../../../src/core/import/zip/expansion-budget.js';
import { DEFAULT_ZIP_LIMITS, resolveZipLimits, type ZipLimits } from '../../../../src/core/import/zip/zip-limits.js';

const MiB = 1024 * 1024;
const limits: ZipLimits = { maxTotalBytes: 100 * MiB, maxEntries: 10, maxEntryBytes: 40 * MiB, maxRatio: 10, ratioCheckFromBytes: 4 * MiB };

/** Feeds `bytes` to a tally in 1 MiB chunks; returns the first reason and how many bytes it took. */
function feed(tally: { add(bytes: number): string | null }, bytes: number): { reason: string | null; after: number } {
  for (let done = MiB; done <= bytes; done += MiB) {
    const reason = tally.add(MiB);
    if (reason !== null) return { reason, after: done };
  }
  return { reason: null, after: bytes };
}

// The streaming checks, on their own. In an archive the declared sizes are checked first (admit)
// and an entry may never produce more than it declared, so these only fire there when the header
// and the data disagree; here the declared sizes are set high to reach each check in isolation.
describe('ExpansionBudget while bytes stream', () => {
  it('stops an entry as soon as it produces more than it declared', () => {
    const tally = new ExpansionBudget(DEFAULT_ZIP_LIMITS, 10 * MiB).tally({ compressedSize: 10 * MiB, uncompressedSize: 3 * MiB });
    expect(feed(tally, 100 * MiB)).toEqual({ reason: 'this entry unpacks to more than the 3 MiB its header declares, as a zip bomb does', after: 4 * MiB });
  });

  it('stops one entry at maxEntryBytes, counted on real bytes', () => {
    const tally = new ExpansionBudget(limits, 1000 * MiB).tally({ compressedSize: 100 * MiB, uncompressedSize: 1000 * MiB });
    expect(feed(tally, 100 * MiB)).toEqual({ reason: 'this entry unpacks to more than 40 MiB, the limit for one file', after: 41 * MiB });
  });

  it('stops the archive at maxTotalBytes across entries', () => {
    const budget = new ExpansionBudget(limits, 1000 * MiB);
    const declared = { compressedSize: 100 * MiB, uncompressedSize: 1000 * MiB };
    expect(feed(budget.tally(declared), 40 * MiB).reason).toBeNull();
    expect(feed(budget.tally(declared), 40 * MiB).reason).toBeNull();
    expect(feed(budget.tally(declared), 40 * MiB)).toEqual({ reason: 'the archive unpacks to more than 100 MiB in all, the limit for one archive', after: 21 * MiB });
    expect(budget.totalBytes).toBe(101 * MiB);
  });

  it('judges the ratio only past ratioCheckFromBytes, then on every chunk', () => {
    const budget = new ExpansionBudget(limits, 1000 * MiB);
    // 4 MiB out of 64 KiB is a ratio of 64, above 10, but small: allowed.
    expect(feed(budget.tally({ compressedSize: 64 * 1024, uncompressedSize: 4 * MiB }), 4 * MiB).reason).toBeNull();
    // 1 MiB compressed may give 10 MiB, not 11.
    expect(feed(budget.tally({ compressedSize: MiB, uncompressedSize: 1000 * MiB }), 100 * MiB))
      .toEqual({ reason: 'this entry expands to more than 10 times its compressed size, as a zip bomb does', after: 11 * MiB });
  });

  it('holds the whole archive to the ratio (entries sharing data)', () => {
    const budget = new ExpansionBudget(limits, 2 * MiB);
    const declared = { compressedSize: 2 * MiB, uncompressedSize: 15 * MiB };
    expect(feed(budget.tally(declared), 15 * MiB).reason).toBeNull();
    expect(feed(budget.tally(declared), 15 * MiB)).toEqual({ reason: 'the archive expands to more than 10 times its own size, as a zip bomb does', after: 6 * MiB });
  });

  it('never divides by a zero compressed size', () => {
    const tally = new ExpansionBudget(limits, 1000 * MiB).tally({ compressedSize: 0, uncompressedSize: 1000 * MiB });
    expect(feed(tally, 10 * MiB).reason).toMatch(/10 times its compressed size/);
  });
});

describe('ExpansionBudget before an entry is unpacked', () => {
  it('refuses what the declared sizes already admit, and allows the rest', () => {
    const budget = new ExpansionBudget(limits, 1000 * MiB);
    expect(budget.admit({ compressedSize: 10 * MiB, uncompressedSize: 40 * MiB })).toBeNull();
    expect(budget.admit({ compressedSize: 10 * MiB, uncompressedSize: 40 * MiB + 1 })).toMatch(/limit for one file/);
    expect(budget.admit({ compressedSize: MiB, uncompressedSize: 11 * MiB })).toMatch(/10 times its compressed size/);
    expect(budget.admit({ compressedSize: 1024, uncompressedSize: 4 * MiB })).toBeNull();
    for (let i = 0; i < 3; i++) expect(feed(budget.tally({ compressedSize: 30 * MiB, uncompressedSize: 30 * MiB }), 30 * MiB).reason).toBeNull();
    expect(budget.admit({ compressedSize: 10 * MiB, uncompressedSize: 10 * MiB })).toBeNull();
    expect(budget.admit({ compressedSize: 10 * MiB, uncompressedSize: 11 * MiB })).toMatch(/100 MiB in all/);
  });
});

describe('resolveZipLimits', () => {
  it('keeps the default for a key given as undefined, so no cap is switched off by accident', () => {
    expect(resolveZipLimits({ maxRatio: undefined, maxEntries: 5 })).toEqual({ ...DEFAULT_ZIP_LIMITS, maxEntries: 5 });
    expect(resolveZipLimits()).toEqual(DEFAULT_ZIP_LIMITS);
  });
});
