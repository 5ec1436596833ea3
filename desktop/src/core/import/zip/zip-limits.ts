/**
 * How much a single archive may unpack to. The caps exist because an archive is attacker-shaped
 * input: a few kilobytes can inflate to terabytes (a "zip bomb") and fill the disk under the app's
 * temp area. They are counted on the bytes that really come out of the decompressor, never only on
 * the sizes the archive declares, which an attacker writes.
 */
export interface ZipLimits {
  /** All entries together, in decompressed bytes. */
  maxTotalBytes: number;
  /** Entries listed in the archive's directory, folders included: each one costs work to examine. */
  maxEntries: number;
  /** One entry, in decompressed bytes. The largest real instances (whole-slide, long cine) are a few GB. */
  maxEntryBytes: number;
  /** Decompressed / compressed, per entry and for the archive as a whole. Real DICOM rarely passes 20. */
  maxRatio: number;
  /**
   * The ratio is judged only once this many bytes came out, so that a small, very compressible
   * file (a header-only object, a blank report) is never refused for its ratio.
   */
  ratioCheckFromBytes: number;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const DEFAULT_ZIP_LIMITS: Readonly<ZipLimits> = Object.freeze({
  maxTotalBytes: 64 * GiB,
  maxEntries: 200_000,
  maxEntryBytes: 16 * GiB,
  maxRatio: 200,
  ratioCheckFromBytes: 4 * MiB,
});

/**
 * The defaults with the caller's overrides. A key present but undefined keeps its default: spread
 * as is, it would turn the cap into `undefined`, which every comparison lets through.
 */
export function resolveZipLimits(overrides: Partial<ZipLimits> = {}): ZipLimits {
  const limits: ZipLimits = { ...DEFAULT_ZIP_LIMITS };
  for (const key of Object.keys(limits) as (keyof ZipLimits)[]) {
    const value = overrides[key];
    if (typeof value === 'number' && !Number.isNaN(value)) limits[key] = value;
  }
  return limits;
}

/** Sizes for reasons shown to people: "1.5 GiB", "640 KiB", "12 bytes". */
export function formatBytes(bytes: number): string {
  const units = [['GiB', GiB], ['MiB', MiB], ['KiB', 1024]] as const;
  for (const [unit, size] of units) {
    if (bytes >= size) return `${trim(bytes / size)} ${unit}`;
  }
  return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
}

function trim(value: number): string {
  return value >= 100 ? value.toFixed(0) : String(Number(value.toFixed(1)));
}
